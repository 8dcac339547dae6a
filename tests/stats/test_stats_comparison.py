"""Known answers for the comparison statistics, each worked out by hand in the comment beside it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmark_pipeline.defs.stats import comparison as cmp
from benchmark_pipeline.defs.stats.comparison import (
    Metric,
    bootstrap_diff_ci,
    clean,
    cliffs_delta,
    compare_metric,
    compare_variant,
    holm,
    mann_whitney_p,
    sessions_needed_per_side,
    verdict,
)

BASE = clean([820, 905, 760, 1010, 880])
FAST = clean([640, 700, 615, 720, 690])


def test_clean_drops_unknowable_values() -> None:
    assert clean([1.0, None, float("nan"), 3]).tolist() == [1.0, 3.0]


def test_medians_are_percentile_cont() -> None:
    assert cmp.median(clean([3, 1, 2])) == 2.0
    assert cmp.median(clean([4, 1, 3, 2])) == 2.5  # mean of the two middle values
    assert cmp.median(clean([])) is None


def test_mann_whitney_exact_complete_separation() -> None:
    # n=3 vs 3, every variant value below every baseline value: U = 0; exact two-sided
    # p = 2 * (1 arrangement of C(6,3) = 20) = 0.1
    assert mann_whitney_p(clean([1, 2, 3]), clean([4, 5, 6])) == pytest.approx(0.1, abs=1e-15)
    # n=5 vs 5: p = 2 / C(10,5) = 2/252
    assert mann_whitney_p(FAST, BASE) == pytest.approx(2 / 252, abs=1e-15)
    # n=2 vs 5: p = 2 / C(7,2) = 2/21
    assert mann_whitney_p(clean([600, 610]), BASE) == pytest.approx(2 / 21, abs=1e-15)


def test_mann_whitney_with_a_tie_uses_the_tie_corrected_normal_approximation() -> None:
    # x = 1,2,3 ; y = 3,4,5. Ranks: 1, 2, 3.5 | 3.5, 5, 6 -> R_x = 6.5, U_x = 6.5 - 6 = 0.5, mu = 4.5.
    # sigma^2 = (3*3/12) * ((N+1) - sum(t^3 - t) / (N(N-1))) = 0.75 * (7 - 6/30) = 5.1
    # z = (|0.5 - 4.5| - 0.5) / sqrt(5.1) = 3.5 / 2.25832 ; p = 2 * (1 - Phi(z))
    z = 3.5 / math.sqrt(5.1)
    expected = math.erfc(z / math.sqrt(2))  # = 2 * (1 - Phi(z))
    assert expected == pytest.approx(0.121183, abs=1e-6)
    assert mann_whitney_p(clean([1, 2, 3]), clean([3, 4, 5])) == pytest.approx(expected, rel=1e-12)


def test_mann_whitney_all_identical_is_one() -> None:
    assert mann_whitney_p(clean([0, 0, 0]), clean([0, 0, 0])) == 1.0
    assert mann_whitney_p(clean([2000, 2100, 2200]), clean([2000, 2100, 2200])) == 1.0


def test_holm_step_down() -> None:
    # sorted: 0.005*4 = 0.02 ; 0.01*3 = 0.03 ; 0.03*2 = 0.06 ; 0.04*1 = 0.04 -> running max 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # None is outside the family (m = 2 here) and stays None: 0.02*2 = 0.04 ; 0.7*1 = 0.7
    assert holm([None, 0.02, 0.7]) == [None, pytest.approx(0.04), pytest.approx(0.7)]
    # capped at 1: 0.6*2 = 1.2 -> 1 ; then max(1, 0.7*1) = 1
    assert holm([0.7, 0.6]) == [1.0, 1.0]
    assert holm([]) == []
    # ties: both 6 * p and 5 * p -> running max keeps 6 * p for both
    p = 2 / 252
    assert holm([p, 1.0, p, 1.0, 1.0, 1.0, None]) == pytest.approx([6 * p, 1.0, 6 * p, 1.0, 1.0, 1.0, None])


def test_cliffs_delta() -> None:
    # x = 1,2,3 vs y = 2,2,4: pairs greater = (3>2, 3>2) = 2; less = (1<2,1<2,1<4, 2<4, 3<4) = 5
    # delta = (2 - 5) / 9
    assert cliffs_delta(clean([1, 2, 3]), clean([2, 2, 4])) == pytest.approx(-1 / 3, abs=1e-15)
    assert cliffs_delta(FAST, BASE) == -1.0
    assert cliffs_delta(BASE, FAST) == 1.0
    assert cliffs_delta(clean([5, 5]), clean([5])) == 0.0


def test_bootstrap_ci_exact_cases() -> None:
    # constant sides: every resample gives 5 - 3
    assert bootstrap_diff_ci(clean([5, 5, 5]), clean([3, 3, 3])) == (2.0, 2.0)
    # variant {0, 10} (n=2): resampled median is 0 (p 1/4), 5 (1/2) or 10 (1/4); baseline always 0.
    # Each extreme has probability 0.25 >> 0.025, so the 2.5% / 97.5% quantiles are 0 and 10.
    assert bootstrap_diff_ci(clean([0, 10]), clean([0, 0])) == (0.0, 10.0)
    # variant {1,2,3} (n=3): median 1 with P = P(>= two 1s) = (3*2 + 1)/27 = 7/27, 3 likewise, 2: 13/27
    assert bootstrap_diff_ci(clean([1, 2, 3]), clean([0, 0, 0])) == (1.0, 3.0)


def test_bootstrap_ci_is_pinned_for_the_default_seed() -> None:
    # the values every machine must reproduce for seed 20261124 and 10,000 resamples
    # (differences of medians of 5 integers are multiples of 0.5, the quantiles here land on them)
    assert cmp.DEFAULT_SEED == 20261124 and cmp.DEFAULT_RESAMPLES == 10_000
    assert bootstrap_diff_ci(FAST, BASE) == (-320.0, -70.0)
    # even n (8 vs 6): medians are means of two middle values, quantiles interpolate; pins the RNG scheme
    odd = clean([12.3, 15.1, 11.8, 14.2, 13.7, 16.4, 12.9, 13.3])
    even = clean([14.8, 17.2, 15.5, 18.1, 16.3, 15.9])
    assert bootstrap_diff_ci(odd, even) == pytest.approx((-4.400000000000002, -0.9500000000000011), abs=1e-12)
    assert bootstrap_diff_ci(odd, even, seed=1, resamples=999) == pytest.approx(
        (-4.549999999999997, -0.9000000000000021), abs=1e-12
    )
    low, high = bootstrap_diff_ci(FAST, BASE, seed=1, resamples=2_000)
    assert (low, high) == bootstrap_diff_ci(FAST, BASE, seed=1, resamples=2_000)  # stable across runs
    # the CI brackets the observed difference of medians (690 - 880 = -190)
    assert low < -190 < high


def test_bootstrap_blocks_do_not_change_the_result(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    x, y = rng.normal(100, 15, 37), rng.normal(90, 20, 23)
    whole = bootstrap_diff_ci(x, y, seed=99, resamples=3_001)
    monkeypatch.setattr(cmp, "_BOOTSTRAP_BLOCK_VALUES", 37 * 7)  # blocks of 7 resamples
    assert bootstrap_diff_ci(x, y, seed=99, resamples=3_001) == whole


def test_bootstrap_matches_a_plain_loop() -> None:
    # an independent, non-vectorised implementation of the documented procedure
    x, y = np.sort(FAST), np.sort(BASE)
    gen_x, gen_y = (np.random.default_rng(s) for s in np.random.SeedSequence(123).spawn(2))
    diffs = []
    for _ in range(500):
        ix = gen_x.integers(0, x.size, size=x.size, dtype=np.int32)
        iy = gen_y.integers(0, y.size, size=y.size, dtype=np.int32)
        diffs.append(float(np.median(x[ix]) - np.median(y[iy])))
    expected = tuple(float(q) for q in np.quantile(diffs, [0.025, 0.975]))
    assert bootstrap_diff_ci(FAST, BASE, seed=123, resamples=500) == expected
    # the order of the sessions does not matter
    assert bootstrap_diff_ci(FAST[::-1], BASE[[2, 0, 4, 1, 3]], seed=123, resamples=500) == expected


@pytest.mark.parametrize("n", [1, 2, 5, 6, 31])
def test_resampled_medians_equal_numpy_medians(n: int) -> None:
    values = np.sort(np.random.default_rng(n).normal(size=n))
    got = cmp._resampled_medians(values, np.random.default_rng(5), 1_000)
    idx = np.random.default_rng(5).integers(0, n, size=(1_000, n), dtype=np.int32)
    assert np.array_equal(got, np.median(values[idx], axis=1))


def test_sessions_needed_per_side_formula() -> None:
    # baseline 10,12,14 (median 12 -> delta 1.2), variant 11,13,15; both sample variances 4 -> pooled 4
    # n = (pi/3) * 2 * (1.959964 + 0.841621)^2 * 4 / 1.2^2 = 45.66 -> 46
    z = 1.959963984540054 + 0.8416212335729143
    by_hand = (math.pi / 3) * 2 * z**2 * 4 / 1.44
    assert by_hand == pytest.approx(45.663, abs=1e-3)
    assert sessions_needed_per_side(clean([11, 13, 15]), clean([10, 12, 14])) == 46
    # the example of the pinned CI: pooled variance (1920 + 8850) / 2 = 5385, delta 88 -> 11.43 -> 12
    assert sessions_needed_per_side(FAST, BASE) == 12


def test_sessions_needed_floors_and_unknowns() -> None:
    # no spread: the formula says 0, but an exact test cannot reach p < 0.05 below 4 per side
    # (2 / C(6,3) = 0.1; 2 / C(8,4) = 0.029)
    assert sessions_needed_per_side(clean([1, 1]), clean([2, 2])) == 4
    assert cmp._min_sessions_exact(0.05) == 4
    assert cmp._min_sessions_exact(0.05 / 7) == 6  # what Holm's first step over 7 metrics needs
    assert sessions_needed_per_side(clean([1, 2]), clean([0, 0])) is None  # baseline median 0
    assert sessions_needed_per_side(clean([1]), clean([2, 3])) is None  # fewer than 2 on a side


@pytest.mark.parametrize(
    ("n_variant", "n_baseline", "p_holm", "ci", "better_when", "expected"),
    [
        (2, 10, 0.0001, (-5.0, -1.0), "lower", "insufficient data"),  # n = 2: never a verdict
        (10, 2, 0.0001, (-5.0, -1.0), "lower", "insufficient data"),
        (3, 3, 0.01, (-5.0, -1.0), "lower", "better"),  # n = 3 is enough
        (3, 3, 0.01, (-5.0, -1.0), "higher", "worse"),
        (3, 3, 0.01, (1.0, 5.0), "higher", "better"),
        (3, 3, 0.01, (1.0, 5.0), "lower", "worse"),
        (3, 3, 0.05, (1.0, 5.0), "lower", "no detectable difference"),  # p must be < 0.05
        (3, 3, 0.049, (0.0, 5.0), "lower", "no detectable difference"),  # CI touching 0 does not exclude it
        (3, 3, 0.049, (-1.0, 5.0), "lower", "no detectable difference"),
        (3, 3, None, (1.0, 5.0), "lower", "no detectable difference"),
    ],
)
def test_verdict_rule(n_variant, n_baseline, p_holm, ci, better_when, expected) -> None:
    got = verdict(
        n_variant=n_variant,
        n_baseline=n_baseline,
        p_value_holm=p_holm,
        ci_low=ci[0],
        ci_high=ci[1],
        better_when=better_when,
    )
    assert got == expected


def test_compare_metric_ratio_and_unknowns() -> None:
    m = Metric("cost_usd", "lower")
    r = compare_metric(m, [0.2, 0.4, None], [0.0, 0.0, 0.0])
    assert (r.n_variant, r.n_baseline, r.median_variant, r.median_baseline) == (2, 3, pytest.approx(0.3), 0.0)
    assert r.ratio_median is None  # baseline median 0
    assert r.diff_median == pytest.approx(0.3)
    empty = compare_metric(m, [None], [1.0, 2.0])
    assert (empty.n_variant, empty.median_variant, empty.diff_median, empty.ci_low, empty.p_value) == (
        0,
        None,
        None,
        None,
        None,
    )
    assert empty.cliffs_delta is None
    one = compare_metric(m, [1.0], [1.0, 2.0])  # inference needs 2 per side
    assert (one.ci_low, one.p_value, one.sessions_needed_per_side) == (None, None, None)
    assert one.cliffs_delta == -0.5


def test_compare_variant_applies_holm_then_the_verdict() -> None:
    p = 2 / 252
    rows = compare_variant(
        {
            "ttft_p50_ms": ([640, 700, 615, 720, 690], [820, 905, 760, 1010, 880]),
            "output_tokens_per_s_p50": ([70, 72, 74, 76, 78], [50, 52, 54, 56, 58]),
            "error_rate": ([0, 0, 0, 0, 0], [0, 0, 0, 0, 0]),
        },
        metrics=[
            Metric("ttft_p50_ms", "lower"),
            Metric("output_tokens_per_s_p50", "higher"),
            Metric("error_rate", "lower"),
            Metric("cost_usd", "lower"),  # no values: not in the Holm family
        ],
    )
    by = {r.metric: r for r in rows}
    # family of 3: p, p, 1 -> 3p, max(3p, 2p), 1
    assert by["ttft_p50_ms"].p_value_holm == pytest.approx(3 * p)
    assert by["output_tokens_per_s_p50"].p_value_holm == pytest.approx(3 * p)
    assert by["error_rate"].p_value_holm == 1.0
    assert by["cost_usd"].p_value_holm is None
    assert by["ttft_p50_ms"].verdict == "better"  # lower, CI (-320, -70)
    assert by["output_tokens_per_s_p50"].verdict == "better"  # higher
    assert by["error_rate"].verdict == "no detectable difference"
    assert (by["error_rate"].ci_low, by["error_rate"].ci_high) == (0.0, 0.0)
    assert by["cost_usd"].verdict == "insufficient data"

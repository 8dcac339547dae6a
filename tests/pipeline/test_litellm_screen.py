"""The relay's byte screen: what it flags, across block boundaries, and the bytes it clears."""

from __future__ import annotations

from benchmark_pipeline.defs.litellm.screen import OVERLAP, PageScreen

HASH = "ab" * 32  # 64 hex digits: what LiteLLM stores as a key


def screened(*blocks: bytes) -> tuple[bool, bytes]:
    """(flagged, every byte the screen cleared, in order)."""
    screen = PageScreen()
    cleared = b"".join(bytes(screen.scan(block)) for block in blocks)
    flagged = screen.finish()
    return flagged, cleared if flagged else cleared + screen.rest


def test_clean_blocks_are_cleared_whole_and_in_order() -> None:
    data = b'{"user_api_key": "' + HASH.encode() + b'", "model": "gpt-4o"}' + b"x" * 500
    for cut in (1, 17, len(data) // 2, len(data) - 1):
        assert screened(data[:cut], data[cut:]) == (False, data)


def test_a_trigger_split_across_two_blocks_is_caught_and_no_part_of_it_is_cleared() -> None:
    flagged, cleared = screened(b"a" * 300 + b"note: S", b"K-live-123 " + b"b" * 300)
    assert flagged
    assert cleared == b"a" * (300 + len(b"note: S") - OVERLAP)  # the held-back tail never went out


def test_a_key_field_whose_value_straddles_blocks_is_judged_whole() -> None:
    hashed = b'"api_key": "' + HASH.encode() + b'"'
    raw = b'"api_key": "' + b"provider-key-0123456789" + b'"'
    for field, expected in ((hashed, False), (raw, True)):
        data = b"c" * 200 + field + b"d" * 200
        cut = 200 + 20  # inside the value
        assert screened(data[:cut], data[cut:])[0] is expected


def test_case_does_not_hide_a_trigger() -> None:
    assert screened(b"Authorization: BEARER abc")[0]
    assert not screened(b'{"model": "gpt-4o", "status": "success"}')[0]

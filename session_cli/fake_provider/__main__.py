"""``python -m session_cli.fake_provider --port N [--host H] [--profiles FILE]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from session_cli.errors import BenchmarkError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m session_cli.fake_provider", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--profiles", type=Path, default=None, help="YAML/JSON latency profiles per model")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)

    import uvicorn

    from session_cli.fake_provider.app import create_app
    from session_cli.fake_provider.profiles import load_profiles

    try:
        profiles = load_profiles(args.profiles)
    except BenchmarkError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    uvicorn.run(
        create_app(profiles), host=args.host, port=args.port, log_level=args.log_level, access_log=False
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

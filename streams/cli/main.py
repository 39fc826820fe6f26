"""The ``hslr`` command line: a thin shell over the project's functions.

Each area contributes its sub-commands through an ``add_commands(subparsers)`` function; this module only
gathers them and reports errors as one clear line (exit 2) instead of a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from streams.logs import configure
from streams.settings import settings

COMMAND_MODULES = (
    "streams.cli.ops",  # infra, db, worker, halt/resume
    "streams.cli.data",  # data synth, ingest histdata, replay
    "streams.cli.calendar",  # calendar import / poll
    "streams.cli.train",  # train regime, train edge
    "streams.cli.backtest",  # backtest, demo
    "streams.cli.research",  # walkforward, report, research
    "streams.cli.report",  # report, stress, latency
    "streams.cli.api",  # api (the HTTP data service)
    "streams.cli.models",  # models list / promote / rollback
    "streams.cli.backup",  # backup, restore
    "streams.cli.live",  # live (OANDA v20 feed and broker)
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hslr", description="HSLR: FX mean reversion as a Kafka stream pipeline"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        s = settings()
        configure("DEBUG" if args.verbose else s.hslr_log_level or "INFO", s.hslr_log_format, s.hslr_run_id)
        return int(args.func(args) or 0)
    except (ValueError, RuntimeError, FileNotFoundError, TimeoutError, KeyError) as exc:
        if args.verbose:
            raise
        print(f"hslr {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""`kaohe`: the admin command line. Each subcommand lives in its own module.

A subcommand module provides `register(subparsers)` that adds its parser(s) and sets
`func=<callable(args) -> int>` on each.
"""

import argparse
import importlib
import sys

from tools.terminal import quiet_on_closed_pipe

SUBCOMMAND_MODULES = (
    "tools.cli_keys",  # kaohe keys create|list|revoke
    "tools.demo",  # kaohe demo
    "tools.cli_audit",  # kaohe audit | explain | rebuild
    "tools.cli_import",  # kaohe import FILE.xlsx|csv
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kaohe", description="kaohe 政务信息工作考核 — admin commands")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return quiet_on_closed_pipe(lambda: int(args.func(args) or 0))


if __name__ == "__main__":
    sys.exit(main())

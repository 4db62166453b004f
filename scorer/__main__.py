"""`python -m fraudstream.scorer [options]`: the scorer without the rest of the CLI (same options as
`fraudstream score`; endpoints from the environment only, nothing is started)."""

from __future__ import annotations

import argparse
import sys

from fraudstream.core.errors import FraudstreamError


def main(argv: list[str] | None = None) -> int:
    from fraudstream.scorer.cli import HELP, add_arguments, run

    parser = argparse.ArgumentParser(prog="python -m fraudstream.scorer", description=HELP)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except FraudstreamError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

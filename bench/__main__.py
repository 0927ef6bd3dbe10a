"""`python -m bench [SCENARIO [ARGS...]]`: run one benchmark of bench/ (each a module with
`main(argv)`), or every one in turn when no scenario is named. Results in bench/results/."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def scenarios() -> list[str]:
    """The benchmark modules beside this file."""
    here = str(Path(__file__).parent)
    return sorted(m.name for m in pkgutil.iter_modules([here]) if not m.name.startswith("_"))


def main(argv: list[str]) -> int:
    known = scenarios()
    if argv and argv[0] in ("-h", "--help"):
        print(f"usage: python -m bench [SCENARIO [ARGS...]]\nscenarios: {', '.join(known)}")
        return 0
    if argv and argv[0] not in known:
        print(f"unknown benchmark {argv[0]!r}; one of: {', '.join(known)}", file=sys.stderr)
        return 2
    for name in [argv[0]] if argv else known:
        print(f"== bench {name}", file=sys.stderr)
        importlib.import_module(f"bench.{name}").main(argv[1:] if argv else [])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

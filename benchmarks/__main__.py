"""Run every benchmark, or the ones named: python -m benchmarks cold_imports warm_overhead."""

from __future__ import annotations

import importlib
import sys

ALL = ["cold_imports", "warm_overhead", "limiter", "streaming", "local_model", "api_throughput"]


def main(argv: list[str]) -> int:
    names = argv or ALL
    for name in names:
        if name not in ALL:
            print(f"unknown benchmark {name!r}; choose from {', '.join(ALL)}")
            return 2
    for name in names:
        print(f"\n=== {name} ===", flush=True)
        importlib.import_module(f"benchmarks.{name}").main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

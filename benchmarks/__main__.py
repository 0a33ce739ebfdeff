"""Run every benchmark, or the ones named: python -m benchmarks cold_imports warm_overhead.
Each runs in a fresh interpreter, so none inherits another's imports, clients or moto state."""

from __future__ import annotations

import subprocess
import sys

ALL = [
    "cold_imports",
    "warm_overhead",
    "limiter",
    "local_aws",
    "local_iam",
    "idempotency",
    "streaming",
    "gateway_path",
    "local_model",
    "api_throughput",
    "structured_outputs",
]


def main(argv: list[str]) -> int:
    names = argv or ALL
    unknown = [name for name in names if name not in ALL]
    if unknown:
        print(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(ALL)}")
        return 2
    failed = 0
    for name in names:
        print(f"\n=== {name} ===", flush=True)
        failed += (
            subprocess.run([sys.executable, "-m", f"benchmarks.{name}"], check=False).returncode
            != 0
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

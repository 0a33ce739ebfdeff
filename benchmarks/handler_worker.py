"""One Lambda handler's cold start, as its own process: import the handler file the way Lambda does,
call it once, then warm calls; print JSON. Run by benchmarks.function_sizing inside a CPU quota.

Only the standard library is imported before the clock starts, so the import time and the peak
RSS are the function's own, not the benchmark's. Input (JSON on stdin): the handler file, its
attribute, sys.path entries (the layer, as /opt/python), the event, how many warm calls, and
the file to write the result to.
"""

from __future__ import annotations

import importlib.util
import json
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any


class _Context:
    """The attributes of a Lambda context object the handlers read."""

    def __init__(self, name: str) -> None:
        self.function_name = name
        self.memory_limit_in_mb = 1024
        self.aws_request_id = str(uuid.uuid4())
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "2026/11/26/[$LATEST]bench"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _status(answer: Any) -> Any:
    if isinstance(answer, dict):
        return answer.get("statusCode", answer.get("policyDocument") and "policy")
    return None


def main() -> int:
    job = json.load(sys.stdin)
    sys.path[:0] = job["sys_path"]
    start = time.perf_counter()
    spec = importlib.util.spec_from_file_location("lambda_function", job["file"])
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    handler = getattr(module, job["attribute"])
    imported = time.perf_counter()
    first_answer = handler(job["event"], _Context(job["name"]))
    first = time.perf_counter()
    warm = []
    for _ in range(job["warm"]):
        t = time.perf_counter()
        handler(job["event"], _Context(job["name"]))
        warm.append(time.perf_counter() - t)
    Path(job["out"]).write_text(  # stdout carries the functions' EMF and log lines
        json.dumps(
            {
                "import_s": imported - start,
                "first_call_s": first - imported,
                "warm_ms": statistics.median(warm) * 1000 if warm else None,
                "peak_rss_mb": _peak_rss_mb(),
                "status": _status(first_answer),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

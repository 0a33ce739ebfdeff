"""Each Lambda function's real process under the CPU share Lambda gives 128, 256, 512 and 1024 MB
(one vCPU at 1,769 MB), to choose MemorySize by measurement.

    python -m benchmarks.function_sizing [--shares 128 256 512 1024] [--streams 8] [--save]

--save writes the numbers to benchmarks/function_sizing.json, which the cost model
(python -m benchmarks.cost_model) renders into docs/cost.md next to the MemorySize chosen from them.

The quota is a kernel CPU quota on the process (cgroup v2 `cpu.max`, or where only cgroup v1 is
mounted, the cpu controller's `cpu.cfs_quota_us` / `cpu.cfs_period_us`, the same CFS bandwidth
limit), joined by the child before it execs, so its imports run under it too. A busy loop under
each quota is measured first to show the limit holds.

The streaming function runs as Lambda runs it: functions/chat_stream/run.sh (uvicorn, uvloop,
httptools) with ChatStreamFunction's template environment, in front of local DynamoDB (moto) and
the scripted SageMaker server. Recorded: peak RSS (VmHWM), cold start (process start to ready, and
to the end of the first stream), time to first byte added over the model's own, and whether the
relay keeps up with a model writing 30, 100 and 300 tokens a second. The authorizer, chat and
dashboard handlers run in benchmarks/handler_worker.py under the same quotas (import, first call,
warm call, peak RSS). On a shared machine the other processes' load adds to every number; the
quota's effect shows in how the numbers move between shares, measured minutes apart.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from benchmarks.stubs import ROOT

FULL_VCPU_MB = 1769  # Lambda: memory buys CPU in proportion, one vCPU at 1,769 MB
PERIOD_US = 100_000
SHARES_MB = (128, 192, 256, 512, 1024)
SAVED = ROOT / "benchmarks" / "function_sizing.json"
RATES = (30, 100, 300)  # tokens a second the scripted model writes
RATE_TOKENS = 60  # tokens per rate test: 2 s at 30/s
KEEPS_UP = 0.95  # delivered / written
MODEL = "spark-1"
BUSY = (
    "import time\n"
    "w, c = time.perf_counter(), time.process_time()\n"
    "while time.perf_counter() - w < 1.0: pass\n"
    "print((time.process_time() - c) / (time.perf_counter() - w))\n"
)


# -- the quota -----------------------------------------------------------------------------------


class CpuQuota:
    """A cgroup whose CPU bandwidth is `share` of one CPU; processes join it before they exec."""

    def __init__(self, share: float, label: str) -> None:
        self.share = share
        quota = max(1000, int(PERIOD_US * share))
        name = f"sparkai-sizing-{os.getpid()}-{label}"
        v2 = Path("/sys/fs/cgroup")
        v1 = Path("/sys/fs/cgroup/cpu")
        controllers = v2 / "cgroup.controllers"
        if controllers.exists() and "cpu" in controllers.read_text().split():
            self.path = v2 / name
            self.mechanism = "cgroup v2 cpu.max"
            self.path.mkdir()
            (self.path / "cpu.max").write_text(f"{quota} {PERIOD_US}")
        elif (v1 / "cpu.cfs_quota_us").exists():
            self.path = v1 / name
            self.mechanism = "cgroup v1 cpu.cfs_quota_us (cgroup v2 has no cpu controller here)"
            self.path.mkdir()
            (self.path / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (self.path / "cpu.cfs_quota_us").write_text(str(quota))
        else:
            raise SystemExit("no writable cgroup cpu controller: cannot limit CPU here")
        self.procs = self.path / "cgroup.procs"

    def join(self) -> None:
        """preexec_fn: the child moves itself into the cgroup before exec."""
        self.procs.write_text(str(os.getpid()))

    def close(self) -> None:
        parent = self.path.parent / "cgroup.procs"
        for pid in self.procs.read_text().split():
            with contextlib.suppress(OSError):  # it ended meanwhile
                parent.write_text(pid)
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.1)


@contextmanager
def cpu_quota(mb: int) -> Iterator[CpuQuota]:
    quota = CpuQuota(mb / FULL_VCPU_MB, f"{mb}mb")
    try:
        yield quota
    finally:
        quota.close()


def busy_rate(quota: CpuQuota) -> float:
    """CPU seconds per wall second of a busy loop under the quota (1.0 unlimited)."""
    out = subprocess.run(
        [sys.executable, "-c", BUSY],
        preexec_fn=quota.join,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return float(out.stdout)


def proc_status(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the streaming function -----------------------------------------------------------------------


@dataclass
class StreamResult:
    mb: int
    busy: float
    ready_s: float
    ready_cpu_s: float  # the process's own CPU seconds to ready: what a share divides
    first_stream_s: float
    added_ttfb_ms: float
    rates: dict[int, tuple[float, float]]  # written -> (direct, through the function) tokens/s
    cpu_ms_per_token: float  # the relay's own CPU per streamed token, over the rate tests
    peak_rss_mb: float
    cpu_s: float


def _script(sagemaker_url: str, chunks: int, delay: float) -> None:
    from sparkai.config import endpoint_name_for

    body = {"chunks": [f" t{i}" for i in range(chunks)], "delay_seconds": delay}
    url = f"{sagemaker_url}/_local/scripts/{endpoint_name_for(MODEL)}"
    httpx.put(url, json=body).raise_for_status()


def _stream(
    http: httpx.Client, url: str, headers: dict[str, str], body: dict[str, Any]
) -> list[float]:
    """Arrival times (from the request) of each line carrying generated text."""
    start = time.perf_counter()
    times = []
    with http.stream("POST", url, headers=headers, json=body) as response:
        if response.status_code != 200:
            raise RuntimeError(f"{url}: {response.status_code} {response.read()[:300]!r}")
        for line in response.iter_lines():
            if '"content"' in line or '"text"' in line:
                times.append(time.perf_counter() - start)
    return times


def _rate(times: list[float]) -> float:
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else float("nan")


def stream_function_env(port: int) -> dict[str, str]:
    from tests.support.lambda_harness import function_environment, function_spec

    with function_environment(function_spec("ChatStreamFunction")):
        env = dict(os.environ)
    venv_bin = str(Path(sys.executable).parent)
    return {**env, "PORT": str(port), "PATH": f"{venv_bin}:{env.get('PATH', '')}"}


def measure_stream(mb: int, world: Any, key: str, streams: int) -> StreamResult:
    from sparkai.config import endpoint_name_for
    from sparkai_local.stack import free_port

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    headers = {"authorization": f"Bearer {key}"}
    body = {"model": MODEL, "messages": [{"role": "user", "content": "Hello!"}], "stream": True}
    direct = (
        f"{world.sagemaker_url}/endpoints/{endpoint_name_for(MODEL)}/invocations-response-stream"
    )
    direct_body = {"messages": body["messages"], "max_tokens": 256, "stream": True}
    _script(world.sagemaker_url, 20, 0.0)
    with cpu_quota(mb) as quota, httpx.Client(timeout=60) as http:
        busy = busy_rate(quota)
        start = time.perf_counter()
        process = subprocess.Popen(
            ["sh", str(ROOT / "functions" / "chat_stream" / "run.sh")],
            cwd=ROOT / "functions" / "chat_stream",
            env=stream_function_env(port),
            preexec_fn=quota.join,
            stdout=subprocess.DEVNULL,  # the EMF lines
            stderr=subprocess.DEVNULL,
        )
        try:
            while True:
                try:
                    if http.get(base + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None or time.perf_counter() - start > 300:
                    raise RuntimeError(f"the streaming function did not start at {mb} MB")
                time.sleep(0.02)
            ready = time.perf_counter() - start
            ready_cpu = cpu_seconds(process.pid)
            _stream(http, base + "/v1/chat", headers, body)
            first_stream = time.perf_counter() - start
            ours, theirs = [], []
            for _ in range(streams):
                theirs.append(_stream(http, direct, {}, direct_body)[0])
                ours.append(_stream(http, base + "/v1/chat", headers, body)[0])
            added = (statistics.median(ours) - statistics.median(theirs)) * 1000
            rates = {}
            relay_cpu = 0.0
            for rate in RATES:
                _script(world.sagemaker_url, RATE_TOKENS, 1 / rate)
                written = _rate(_stream(http, direct, {}, direct_body))
                before = cpu_seconds(process.pid)
                relayed = _rate(_stream(http, base + "/v1/chat", headers, body))
                relay_cpu += cpu_seconds(process.pid) - before
                rates[rate] = (written, relayed)
            per_token = relay_cpu * 1000 / (RATE_TOKENS * len(RATES))
            _script(world.sagemaker_url, 20, 0.0)
            return StreamResult(
                mb,
                busy,
                ready,
                ready_cpu,
                first_stream,
                added,
                rates,
                per_token,
                proc_status(process.pid, "VmHWM"),
                cpu_seconds(process.pid),
            )
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# -- the handler functions ------------------------------------------------------------------------


@dataclass
class HandlerResult:
    name: str
    mb: int
    import_s: float
    first_call_s: float
    warm_ms: float
    peak_rss_mb: float
    status: Any


def handler_jobs(record: Any) -> dict[str, dict[str, Any]]:
    """Per function: its handler file, layer path, resolved template environment and event."""
    from benchmarks.local_world import path_events
    from sparkai_local.template import load_template
    from tests.support.events import load_event
    from tests.support.lambda_harness import _resolve, function_spec, table_refs

    template = load_template()
    refs = {
        **table_refs(),
        "DashboardUserPool": "us-east-1_sizing",
        "DashboardUserPoolClient": "sizing-client",
        "AWS::StackName": "sparkai-sizing",
    }
    dashboard = load_event("chat/get-models")
    path = "/v1/dashboard/account"
    dashboard.update(path=path, resource=path, httpMethod="GET", body=None)
    dashboard["requestContext"].update(resourcePath=path, httpMethod="GET")
    dashboard["requestContext"]["authorizer"] = {
        "claims": {
            "sub": "11111111-2222-3333-4444-555555555555",
            "aud": "sizing-client",
            "token_use": "id",
            "email": "sizing@example.com",
        }
    }
    events = path_events(record)
    chosen = {
        "authorizer": ("AuthorizerFunction", events["authorizer"]),
        "chat": ("ChatFunction", load_event("chat/get-models")),
        "dashboard": ("DashboardFunction", dashboard),
    }
    jobs = {}
    for label, (logical_id, event) in chosen.items():
        spec = function_spec(logical_id, template)
        env = {k: _resolve(v, template, refs) for k, v in spec.environment.items()}
        env = {k: v for k, v in env.items() if v != "" or k not in os.environ}
        module, attribute = spec.handler.rsplit(".", 1)
        jobs[label] = {
            "name": logical_id,
            "file": str(spec.code_uri / f"{module}.py"),
            "attribute": attribute,
            "sys_path": [str(d) for d in spec.layer_dirs],
            "event": event,
            "env": env,
        }
    return jobs


def measure_handler(label: str, job: dict[str, Any], mb: int, warm: int) -> HandlerResult:
    with cpu_quota(mb) as quota, tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        run = {k: v for k, v in job.items() if k != "env"} | {"warm": warm, "out": str(out)}
        subprocess.run(
            [sys.executable, "-m", "benchmarks.handler_worker"],
            input=json.dumps(run),
            text=True,
            env={**os.environ, **job["env"]},
            cwd=ROOT,
            preexec_fn=quota.join,
            stdout=subprocess.DEVNULL,
            check=True,
            timeout=300,
        )
        r = json.loads(out.read_text())
    return HandlerResult(
        label, mb, r["import_s"], r["first_call_s"], r["warm_ms"], r["peak_rss_mb"], r["status"]
    )


# -- the run --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shares", type=int, nargs="+", default=list(SHARES_MB))
    parser.add_argument("--streams", type=int, default=8, help="warm streams per share (TTFB)")
    parser.add_argument("--warm", type=int, default=20, help="warm calls per handler and share")
    parser.add_argument(
        "--save", action="store_true", help=f"write {SAVED.name} for the cost model"
    )
    args = parser.parse_args(argv)
    os.environ.update(
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",
        AWS_DEFAULT_REGION="us-east-1",
        POWERTOOLS_LOG_LEVEL="WARNING",
    )
    from benchmarks.local_world import EXAMPLE_KEY, local_world
    from sparkai.plans import Limits

    streams: list[StreamResult] = []
    handlers: list[HandlerResult] = []
    with local_world() as world:
        account = world.admin.create_account("enterprise", limits=Limits(10**7, 10**10))
        created = world.admin.create_key(account.account_id, secret=EXAMPLE_KEY)
        jobs = handler_jobs(created.record)
        for mb in args.shares:
            print(f"{mb} MB ({mb / FULL_VCPU_MB:.1%} of a CPU)...", flush=True)
            streams.append(measure_stream(mb, world, EXAMPLE_KEY, args.streams))
            for label, job in jobs.items():
                handlers.append(measure_handler(label, job, mb, args.warm))
        mechanism = CpuQuota.__name__
        with cpu_quota(128) as probe:
            mechanism = probe.mechanism
    print_tables(streams, handlers, mechanism)
    if args.save:
        SAVED.write_text(
            json.dumps(
                {
                    "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                    "mechanism": mechanism,
                    "cores": os.cpu_count(),
                    "stream": [dataclasses.asdict(r) for r in streams],
                    "handlers": [dataclasses.asdict(r) for r in handlers],
                },
                indent=1,
            )
            + "\n"
        )
        print(f"\nwrote {SAVED.relative_to(ROOT)}")
    return 0


def sustainable(result: StreamResult) -> float:
    """Tokens a second the relay's CPU per token allows within its share (contention aside)."""
    if result.cpu_ms_per_token <= 0:
        return float("inf")
    return result.mb / FULL_VCPU_MB * 1000 / result.cpu_ms_per_token


def print_tables(
    streams: list[StreamResult], handlers: list[HandlerResult], mechanism: str
) -> None:
    print(f"\nCPU limit: {mechanism}; {os.cpu_count()} cores, shared with other processes.\n")
    print("Streaming function (run.sh: uvicorn + the FastAPI app), scripted model:\n")
    rate_heads = " | ".join(f"{r} tokens/s: written / relayed" for r in RATES)
    print(
        "| MB | CPU share | busy loop CPU/s | peak RSS MB | ready s (CPU s) | first stream s |"
        f" added TTFB ms | {rate_heads} | keeps up | relay CPU ms/token | tokens/s the share sustains |"
    )
    print("|---|---|---|---|---|---|---|" + "---|" * len(RATES) + "---|---|---|")
    for s in streams:
        cells = " | ".join(f"{w:.0f} / {r:.0f}" for w, r in s.rates.values())
        keeps = all(r >= KEEPS_UP * w for w, r in s.rates.values())
        print(
            f"| {s.mb} | {s.mb / FULL_VCPU_MB:.3f} | {s.busy:.3f} | {s.peak_rss_mb:.0f} |"
            f" {s.ready_s:.2f} ({s.ready_cpu_s:.2f}) | {s.first_stream_s:.2f} | {s.added_ttfb_ms:+.1f} | {cells} |"
            f" {'yes' if keeps else 'NO'} | {s.cpu_ms_per_token:.2f} |"
            f" {sustainable(s):,.0f} |"
        )
    print("\nHandlers (handler_worker: import, first call, warm call):\n")
    print("| function | MB | import s | first call s | warm call ms | peak RSS MB | status |")
    print("|---|---|---|---|---|---|---|")
    for h in handlers:
        print(
            f"| {h.name} | {h.mb} | {h.import_s:.2f} | {h.first_call_s:.3f} |"
            f" {h.warm_ms:.1f} | {h.peak_rss_mb:.0f} | {h.status} |"
        )


if __name__ == "__main__":
    sys.exit(main())

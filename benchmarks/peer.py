"""SparkAI Stream next to a peer gateway (LiteLLM's proxy), side by side in one run, from one
client program, both in front of the same local SageMaker server (scripted model, no delay).

LiteLLM lives in a throwaway virtual environment outside the project (never a project
dependency), pinned, and is refused if its site-packages holds any `.pth` file: some LiteLLM
releases were compromised through a `.pth` that runs code at every interpreter start.

    make bench-peer                      # or: python -m benchmarks.peer [--buffered N --streams N]

Printed: added latency over the direct backend (p50, concurrency 1) for a buffered request, a
stream's first byte and its whole 20-chunk body, and buffered requests/s at concurrency 8; two
repetitions in alternating order (SparkAI first, then LiteLLM first). And the measure that is the
gateway's alone, whatever the local DynamoDB costs: CPU seconds of each gateway's own process per
1,000 requests (buffered and streamed, c=1), read from the kernel's accounting of that process
(/proc/PID/stat utime + stime, with its threads and any child processes), so the local AWS and
model processes and the client are not in it. Ours runs with its key limits, spend limit and
metering on (a reservation and a settle per request); LiteLLM with its in-memory rpm/tpm limits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

PEER_VERSION = "1.108.7"
PEER_REQUIREMENT = f"litellm[proxy]=={PEER_VERSION}"
PEER_VENV = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "sparkai" / "peer-venv"
# .pth files a clean venv may legitimately hold (setuptools' own); anything else is refused.
STANDARD_PTH = {"distutils-precedence.pth"}
CHUNKS = [f" w{i}" for i in range(20)]
MODEL = "spark-1"
MESSAGES = [{"role": "user", "content": "Hello!"}]
CONCURRENCY = 8
PEER_MASTER_KEY = "sk-peer-bench-master"  # a throwaway local proxy's key
# LiteLLM 1.108.7's proxy stops answering the 673rd stream it serves: the request just hangs, with
# no leaked socket on its side or the local SageMaker's, and the same with this project's old and
# new model-server relay (2026-11-26). Runs are kept below that rather than timing out mid-table.
PEER_STREAM_CEILING = 650
WARM_STREAMS = 5  # per gateway and repetition, before the rounds


# -- the peer's environment -------------------------------------------------------------------------


def _site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python3*/site-packages"))
    if not found:
        raise SystemExit(f"no site-packages under {venv}")
    return found[0]


def check_no_pth(venv: Path) -> None:
    """Refuse a peer environment holding a non-standard .pth (code run at interpreter start)."""
    extra = sorted(
        p.name for p in _site_packages(venv).rglob("*.pth") if p.name not in STANDARD_PTH
    )
    if extra:
        raise SystemExit(
            f"refusing to run: {venv} has unexpected .pth files {extra}; delete the venv and "
            "check the pinned release"
        )


def ensure_peer_venv(venv: Path = PEER_VENV) -> Path:
    python = venv / "bin" / "python"
    version = (
        subprocess.run(
            [str(python), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        if python.exists()
        else ""
    )
    if version != PEER_VERSION:
        print(f"installing {PEER_REQUIREMENT} into {venv} (outside the project)", flush=True)
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--progress-bar",
                "off",
                PEER_REQUIREMENT,
            ],
            check=True,
        )
    check_no_pth(venv)
    return venv


# -- the servers ------------------------------------------------------------------------------------


def _wait(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def peer_config(sagemaker_url: str, endpoint: str) -> dict:
    """Two deployments of one endpoint: LiteLLM's sagemaker_base_url is the whole invocation URL,
    so the buffered and the streaming path are two model names. rpm/tpm are kept by the proxy's
    router in its own memory (no database, no Redis): its cheapest way to enforce key limits."""

    def deployment(name: str, path: str) -> dict:
        return {
            "model_name": name,
            "litellm_params": {
                "model": f"sagemaker_chat/{endpoint}",
                "sagemaker_base_url": f"{sagemaker_url}/endpoints/{endpoint}/{path}",
                "aws_access_key_id": "local",
                "aws_secret_access_key": "local",
                "aws_region_name": "us-east-1",
                "rpm": 1_000_000,
                "tpm": 1_000_000_000,
            },
        }

    return {
        "model_list": [
            deployment(MODEL, "invocations"),
            deployment(MODEL + "-stream", "invocations-response-stream"),
        ],
        "router_settings": {"routing_strategy": "usage-based-routing-v2"},
        "litellm_settings": {"set_verbose": False, "telemetry": False},
        "general_settings": {"master_key": PEER_MASTER_KEY},
    }


@contextmanager
def litellm_proxy(venv: Path, sagemaker_url: str, endpoint: str) -> Iterator[tuple[str, int]]:
    from sparkai_local.stack import free_port

    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.json"  # YAML is a JSON superset
        config.write_text(json.dumps(peer_config(sagemaker_url, endpoint)))
        env = {
            **os.environ,
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no fetch from GitHub at start
            "LITELLM_LOG": "ERROR",
            "LITELLM_TELEMETRY": "False",
            "DISABLE_SCHEMA_UPDATE": "True",
        }
        env.pop("DATABASE_URL", None)
        process = subprocess.Popen(
            [
                *(str(venv / "bin" / "litellm"), "--config", str(config)),
                *("--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=tmp,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait(url + "/health/liveliness")
            yield url, process.pid
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


@contextmanager
def quiet_children() -> Iterator[None]:
    """The API process writes a metrics line (EMF) per request to the stdout it inherits (in
    Lambda, CloudWatch's); here it would bury the table. Children get /dev/null, we the terminal."""
    sys.stdout.flush()
    terminal = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    sys.stdout = os.fdopen(os.dup(terminal), "w", buffering=1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(terminal, 1)
        sys.stdout = sys.__stdout__
        os.close(terminal)
        os.close(devnull)


# -- the client -------------------------------------------------------------------------------------


class Target:
    def __init__(
        self,
        name: str,
        buffered: Callable[[], tuple],
        stream: Callable[[], tuple],
        pid: int | None = None,
    ) -> None:
        self.name = name
        self.buffered = buffered  # (url, headers, json)
        self.stream = stream
        self.pid = pid  # the gateway's own process, whose CPU time is read


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        children = task / "children"
        if children.exists():
            found += [int(c) for c in children.read_text().split()]
    return found


def process_cpu_seconds(pid: int | None) -> float:
    """utime + stime of the process (all its threads), its reaped children, and its live
    descendants: the CPU the kernel charged to this gateway."""
    if pid is None:
        return 0.0
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue  # ended meanwhile
        total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
        pending += _children(current)
    return total / os.sysconf("SC_CLK_TCK")


def _p50(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def buffered_latencies(http: httpx.Client, target: Target, n: int) -> list[float]:
    url, headers, body = target.buffered()
    out = []
    for _ in range(n):
        start = time.perf_counter()
        response = http.post(url, headers=headers, json=body)
        response.read()
        out.append(time.perf_counter() - start)
        if response.status_code != 200:
            raise RuntimeError(f"{target.name}: {response.status_code} {response.text[:300]}")
    return out


def stream_latencies(http: httpx.Client, target: Target, n: int) -> tuple[list[float], list[float]]:
    url, headers, body = target.stream()
    first_bytes, wholes = [], []
    for _ in range(n):
        start = time.perf_counter()
        first = None
        with http.stream("POST", url, headers=headers, json=body) as response:
            if response.status_code != 200:
                raise RuntimeError(
                    f"{target.name}: {response.status_code} {response.read()[:300]!r}"
                )
            for _part in response.iter_raw():
                if first is None:
                    first = time.perf_counter() - start
        wholes.append(time.perf_counter() - start)
        first_bytes.append(first or wholes[-1])
    return first_bytes, wholes


async def _throughput(target: Target, n_per_client: int) -> tuple[int, float]:
    """(requests, seconds) for CONCURRENCY clients sending n_per_client requests each."""
    url, headers, body = target.buffered()
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:

        async def client(n: int) -> None:
            for _ in range(n):
                response = await http.post(url, headers=headers, json=body)
                if response.status_code != 200:
                    raise RuntimeError(f"{target.name}: {response.status_code}")

        await asyncio.gather(*(client(2) for _ in range(CONCURRENCY)))  # open the connections
        start = time.perf_counter()
        await asyncio.gather(*(client(n_per_client) for _ in range(CONCURRENCY)))
        return CONCURRENCY * n_per_client, time.perf_counter() - start


class Samples:
    """One target's raw samples over a repetition's rounds."""

    def __init__(self) -> None:
        self.buffered: list[float] = []
        self.first: list[float] = []
        self.whole: list[float] = []
        self.requests = 0
        self.seconds = 0.0
        self.cpu_buffered = 0.0  # the gateway process's CPU seconds over the buffered requests
        self.cpu_streamed = 0.0

    def measure(self, http: httpx.Client, target: Target, buffered: int, streams: int) -> None:
        """`buffered` requests, then `streams` streams, added to what was measured before."""
        before = process_cpu_seconds(target.pid)
        self.buffered += buffered_latencies(http, target, buffered)
        between = process_cpu_seconds(target.pid)
        first, whole = stream_latencies(http, target, streams)
        self.cpu_buffered += between - before
        self.cpu_streamed += process_cpu_seconds(target.pid) - between
        self.first += first
        self.whole += whole


def _share(total: int, rounds: int, i: int) -> int:
    return total // rounds + (1 if i < total % rounds else 0)


def measure(
    direct: Target, gateways: list[Target], args: argparse.Namespace, rep: int
) -> dict[str, dict[str, float]]:
    """One repetition: `--rounds` short rounds, each measuring the direct backend and then every
    gateway (in alternating order) on a slice of the samples. A shared 2-core machine drifts in
    speed over minutes; measured in long blocks one after the other, one gateway got the fast
    minutes and the other the slow, and the ratios swung by 30-50% between repetitions. In
    interleaved rounds both see the same machine, and each number is the p50 over all rounds."""
    rounds = args.rounds
    direct_samples = Samples()
    samples = {g.name: Samples() for g in gateways}
    with httpx.Client(timeout=60) as http:
        buffered_latencies(http, direct, 50)  # warm every path and its connections
        for gateway in gateways:
            buffered_latencies(http, gateway, 50)
            stream_latencies(http, gateway, WARM_STREAMS)
        for i in range(rounds):
            n_buf, n_str = _share(args.buffered, rounds, i), _share(args.streams, rounds, i)
            direct_samples.measure(http, direct, n_buf, n_str)
            order = gateways if (rep + i) % 2 == 0 else gateways[::-1]
            for gateway in order:
                samples[gateway.name].measure(http, gateway, n_buf, n_str)
            for gateway in order:
                requests, seconds = asyncio.run(
                    _throughput(gateway, _share(args.throughput, rounds, i))
                )
                samples[gateway.name].requests += requests
                samples[gateway.name].seconds += seconds
    d_buf = _p50(direct_samples.buffered)
    return {
        name: {
            "buffered": _p50(own.buffered) - d_buf,
            "first_byte": _p50(own.first) - _p50(direct_samples.first),
            "whole": _p50(own.whole) - _p50(direct_samples.whole),
            "throughput": own.requests / own.seconds,
            "direct_buffered": d_buf,
            # CPU seconds per 1,000 requests = CPU milliseconds per request
            "cpu_buffered": own.cpu_buffered * 1000 / len(own.buffered),
            "cpu_streamed": own.cpu_streamed * 1000 / len(own.whole),
        }
        for name, own in samples.items()
    }


def _fmt(values: list[float], unit: str) -> str:
    if unit == "req/s":
        return " / ".join(f"{v:.1f}" for v in values) + " req/s"
    return " / ".join(f"{v:+.1f}" for v in values) + " ms"


def print_table(results: dict[str, list[dict[str, float]]]) -> None:
    names = list(results)
    rows = [
        ("buffered p50", "buffered", "ms"),
        ("stream time to first byte p50", "first_byte", "ms"),
        (f"whole stream ({len(CHUNKS)} chunks) p50", "whole", "ms"),
        (f"throughput at concurrency {CONCURRENCY}", "throughput", "req/s"),
    ]
    print()
    print("| added over the direct backend | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for label, key, unit in rows:
        cells = [_fmt([r[key] for r in results[name]], unit) for name in names]
        print(f"| {label} | " + " | ".join(cells) + " |")
    a, b = (results[n] for n in names)
    print()
    print("ratios SparkAI / LiteLLM per repetition (targets: <= 0.5, <= 1.0, <= 0.7, >= 1.5):")
    for i in range(len(a)):
        print(
            "  rep {}: added {:.2f}x, first byte {:.2f}x, whole stream {:.2f}x, throughput {:.2f}x".format(
                i + 1,
                *(
                    a[i][k] / b[i][k] if b[i][k] else float("nan")
                    for k in ("buffered", "first_byte", "whole", "throughput")
                ),
            )
        )
    direct = [r["direct_buffered"] for name in names for r in results[name]]
    print(f"direct backend buffered p50: {min(direct):.1f}-{max(direct):.1f} ms")
    print()
    print("CPU seconds of the gateway's own process per 1,000 requests (target: ours <= 0.5x):")
    print("| gateway | buffered | streamed |")
    print("|---|---|---|")
    for name in names:
        cells = [
            " / ".join(f"{r[key]:.2f}" for r in results[name])
            for key in ("cpu_buffered", "cpu_streamed")
        ]
        print(f"| {name} | {cells[0]} s | {cells[1]} s |")
    for i in range(len(a)):
        print(
            "  rep {}: CPU per request {:.2f}x buffered, {:.2f}x streamed".format(
                i + 1,
                *(
                    a[i][k] / b[i][k] if b[i][k] else float("nan")
                    for k in ("cpu_buffered", "cpu_streamed")
                ),
            )
        )


def _cpu_model() -> str:
    for line in (
        Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []
    ):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buffered", type=int, default=2000, help="buffered requests per sample")
    parser.add_argument("--streams", type=int, default=300, help="streams per sample")
    parser.add_argument(
        "--throughput",
        type=int,
        default=300,  # 30 per client per round: at 100, rounds of ~0.5 s swung the ratio 1.35-1.64x
        help="requests per client at c=8",
    )
    parser.add_argument("--repetitions", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=10, help="interleaved rounds per repetition")
    args = parser.parse_args(argv)
    if (args.streams + WARM_STREAMS) * args.repetitions > PEER_STREAM_CEILING:
        parser.error(
            f"(--streams + {WARM_STREAMS} to warm up) x --repetitions must stay <= {PEER_STREAM_CEILING}: LiteLLM "
            f"{PEER_VERSION}'s proxy hangs on its 673rd stream (see PEER_STREAM_CEILING)"
        )
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    venv = ensure_peer_venv()

    from sparkai.config import endpoint_name_for
    from sparkai.plans import Limits
    from sparkai_local.aws_server import local_admin
    from sparkai_local.stack import StackConfig, free_port, running

    with quiet_children(), running(StackConfig(model="scripted", port=free_port())) as stack:
        sagemaker = stack.sagemaker_url
        endpoint = endpoint_name_for(MODEL)
        script = {"chunks": CHUNKS, "delay_seconds": 0}
        httpx.put(f"{sagemaker}/_local/scripts/{endpoint}", json=script).raise_for_status()
        admin = local_admin(stack.aws_url)
        account = admin.create_account("enterprise", limits=Limits(10**7, 10**10))
        key = admin.create_key(account.account_id).secret
        api_pid = next(c.process.pid for c in stack.children if c.name == "API")
        with litellm_proxy(venv, sagemaker, endpoint) as (peer_url, peer_pid):
            payload = {"messages": MESSAGES, "max_tokens": 64}
            direct = Target(
                "direct",
                lambda: (f"{sagemaker}/endpoints/{endpoint}/invocations", {}, payload),
                lambda: (
                    f"{sagemaker}/endpoints/{endpoint}/invocations-response-stream",
                    {},
                    {**payload, "stream": True},
                ),
            )
            ours = {"authorization": f"Bearer {key}"}
            sparkai = Target(
                "SparkAI Stream (local stack)",
                lambda: (f"{stack.api_url}/v1/chat", ours, {"model": MODEL, **payload}),
                lambda: (
                    f"{stack.api_url}/v1/chat",
                    ours,
                    {"model": MODEL, **payload, "stream": True},
                ),
                pid=api_pid,
            )
            theirs = {"authorization": f"Bearer {PEER_MASTER_KEY}"}
            peer = Target(
                f"LiteLLM {PEER_VERSION} proxy, in-memory rpm/tpm",
                lambda: (
                    f"{peer_url}/v1/chat/completions",
                    theirs,
                    {"model": MODEL, **payload},
                ),
                lambda: (
                    f"{peer_url}/v1/chat/completions",
                    theirs,
                    {"model": MODEL + "-stream", **payload, "stream": True},
                ),
                pid=peer_pid,
            )
            results: dict[str, list[dict[str, float]]] = {sparkai.name: [], peer.name: []}
            for rep in range(args.repetitions):
                print(f"rep {rep + 1}: both gateways, {args.rounds} interleaved rounds", flush=True)
                for name, numbers in measure(direct, [sparkai, peer], args, rep).items():
                    results[name].append(numbers)
    print(
        f"\n{_cpu_model()}, {os.cpu_count()} cores; "
        f"{args.buffered} buffered requests (c=1) and {args.streams} streams per sample, "
        f"{CONCURRENCY}x{args.throughput} requests for throughput, in {args.rounds} interleaved "
        "rounds per repetition"
    )
    print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())

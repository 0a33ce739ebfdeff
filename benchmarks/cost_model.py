"""The cost model: dollars per million requests of each plan's typical request on each model,
broken into API Gateway, Lambda, DynamoDB, CloudWatch and SageMaker, next to the revenue at the
documented prices. Writes docs/cost.md (python -m benchmarks.cost_model [--print]).

Measured here, on the code as it is: the DynamoDB operations per request on each path (a botocore
hook on the functions' own clients, the same requests the functions make in AWS, answered by the
local moto server) with the capacity units each one consumes, and the bytes each request writes
to its log (CloudWatch ingestion). Assumed, and printed as such: model speeds, utilisation,
request sizes per plan, authorizer cache hits. Prices: PRICES below (us-east-1, dated, sourced).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from benchmarks.stubs import ROOT

PRICES_DATE = date(2026, 11, 26)  # when the figures below were read
# us-east-1 list prices; sources are the stored copies read with the project's search tool.
PRICES: dict[str, tuple[Decimal, str]] = {
    "apigw_rest_per_million": (
        Decimal("3.50"),
        "Amazon API Gateway pricing (REST APIs, first 333 million requests a month); AWS whitepaper "
        "'Best Practices for Designing Amazon API Gateway Private APIs', Table 4",
    ),
    "lambda_request_per_million": (Decimal("0.20"), "AWS Lambda pricing (requests)"),
    "lambda_arm_gb_second": (
        Decimal("0.0000133334"),
        "AWS Lambda pricing, Arm, first 7.5 billion GB-s a month (cloudchipr.com 'AWS Lambda "
        "Pricing Breakdown')",
    ),
    "lambda_x86_gb_second": (Decimal("0.0000166667"), "AWS Lambda pricing, x86, first tier"),
    "ddb_wru_per_million": (
        Decimal("0.625"),
        "Amazon DynamoDB on-demand pricing after the November 2024 reduction (airbyte.com "
        "'Amazon DynamoDB Pricing: On-Demand & Provisioned Plans')",
    ),
    "ddb_rru_per_million": (Decimal("0.125"), "same source, read request units"),
    "cloudwatch_logs_ingest_per_gb": (
        Decimal("0.50"),
        "Amazon CloudWatch Logs standard ingestion (go-cloud.io 'AWS API Gateway Pricing' cites "
        "$0.50 per GB ingested)",
    ),
}


def price(name: str) -> Decimal:
    return PRICES[name][0]


# -- assumptions (not measured here: no GPU on this machine) ------------------------------------


@dataclass(frozen=True)
class ModelAssumption:
    instance_type: str
    stream_tokens_per_second: float  # one sequence's decode speed, what a client waits for
    instance_tokens_per_second: float  # all sequences together at the configured batch (vLLM)
    first_token_seconds: float
    price_per_hour: Decimal
    basis: str  # the cited figure behind the speeds (models.toml)


def serving_assumptions() -> dict[str, ModelAssumption]:
    """Each model's configured serving option (models.toml, checked by `sparkai-endpoints plan`):
    the cited throughput figures and the cited instance price, not numbers typed here."""
    from model_endpoints import economics
    from model_endpoints.config import load_config

    found = {}
    for spark_id, model in load_config().models.items():
        option = economics.configured(model)
        if option is None:
            raise SystemExit(f"{spark_id}: models.toml's serving has no cited figure (run plan)")
        found[spark_id] = ModelAssumption(
            option.instance.instance_type,
            option.stream_tokens_per_second,
            option.instance_tokens_per_second,
            option.first_token_seconds,
            option.price_per_hour,
            f"{option.figure.basis}, x {option.figure.scale:g} ({option.figure.source})",
        )
    return found


def memory_mb(logical_id: str) -> int:
    """The function's MemorySize in template.yaml (its own, else the Globals')."""
    from sparkai_local.template import load_template

    template = load_template()
    own = template["Resources"][logical_id]["Properties"].get("MemorySize")
    return int(own if own is not None else template["Globals"]["Function"]["MemorySize"])


MODELS_ASSUMED = serving_assumptions()
UTILISATION = 0.5  # share of instance capacity sold, averaged over the day (economics.UTILISATION)
PREFILL_WEIGHT = 0.1  # a prompt token costs a tenth of a generated one (economics.PREFILL_WEIGHT)
TYPICAL_REQUEST = {  # (prompt, completion) tokens per plan
    "starter": (300, 300),
    "pro": (500, 500),
    "enterprise": (2000, 500),
}
AUTHORIZER_CALLS_PER_REQUEST = 0.1  # API Gateway caches its answer per key for 60 s
# Set from benchmarks/function_sizing.py's measurements (docs/cost.md quotes the table).
STREAM_MEMORY_MB = memory_mb("GatewayStreamFunction")  # the API Gateway chat path's function
AUTHORIZER_MEMORY_MB, AUTHORIZER_SECONDS = memory_mb("AuthorizerFunction"), 0.010
GATEWAY_OVERHEAD_SECONDS = 0.015  # measured added latency order of magnitude (bench-peer)
API_ACCESS_LOG_BYTES = 900  # one JSON line per request (template.yaml AccessLogSetting)
LAMBDA_PLATFORM_LOG_BYTES = 350  # START / END / REPORT lines
GATEWAY_SHARE_GOAL = Decimal("0.10")


# -- measured: DynamoDB operations and log bytes per request -----------------------------------


@dataclass
class Operations:
    calls: Counter[str]
    rru: float
    wru: float
    log_bytes: int


class Meter:
    """Counts DynamoDB operations and their capacity units from the request parameters."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.rru = 0.0
        self.wru = 0.0

    def on_params(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        name = model.name
        self.calls[name] += 1
        if name in ("GetItem", "Query"):
            self.rru += 1.0 if params.get("ConsistentRead") else 0.5
        elif name == "TransactGetItems":
            self.rru += 2.0 * len(params.get("TransactItems", []))
        elif name == "TransactWriteItems":
            self.wru += 2.0 * len(params.get("TransactItems", []))
        elif name == "BatchWriteItem":
            self.wru += sum(len(v) for v in params.get("RequestItems", {}).values())
        elif name in ("PutItem", "UpdateItem", "DeleteItem"):
            self.wru += 1.0  # every item here is far under 1 KB


def measure() -> dict[str, Operations]:
    os.environ.update(
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",
        AWS_DEFAULT_REGION="us-east-1",
        POWERTOOLS_LOG_LEVEL="INFO",  # as deployed: the usage line is part of the log bill
    )
    from benchmarks.local_world import EXAMPLE_KEY, local_world, path_events
    from sparkai import aws
    from sparkai.observability import logger
    from tests.support.lambda_harness import deployed

    results: dict[str, Operations] = {}
    with local_world() as world:
        admin = world.admin
        created = admin.create_key(admin.create_account("pro").account_id, secret=EXAMPLE_KEY)

        def counted(
            label: str, logical_id: str, event: dict[str, Any], env_of: str | None = None
        ) -> None:
            with deployed(logical_id, environment_of=env_of) as call:
                meter = Meter()
                aws.client("dynamodb").meta.events.register(
                    "before-parameter-build.dynamodb", meter.on_params
                )
                call(event)  # the first call of a container also writes last-used: not typical
                meter.calls.clear()
                meter.rru = meter.wru = 0.0
                out = io.StringIO()
                handler = logger.registered_handler  # Powertools bound sys.stdout at creation
                previous = handler.setStream(out)
                try:
                    with contextlib.redirect_stdout(out):  # the EMF metrics lines
                        response = call(event)
                finally:
                    handler.setStream(previous)
                status = response.get("statusCode") if isinstance(response, dict) else None
                assert status in (None, 200), response
                results[label] = Operations(
                    meter.calls, meter.rru, meter.wru, len(out.getvalue().encode())
                )

        events = path_events(created.record)
        for label, args in (
            ("authorizer", ("AuthorizerFunction", events["authorizer"])),
            ("api_gateway", ("ChatFunction", events["api_gateway"])),
            ("function_url", ("ChatFunction", events["function_url"], "ChatStreamFunction")),
        ):
            counted(label, *args)  # deployed() resets the wiring (clients too) on its way out
    return results


# -- the model ----------------------------------------------------------------------------------


def _d(x: float) -> Decimal:
    return Decimal(repr(x))


def costs_per_million(
    plan: str, model_id: str, ops: dict[str, Operations], path: str = "api_gateway"
) -> dict[str, Decimal]:
    from sparkai.catalog import MODELS

    prompt, completion = TYPICAL_REQUEST[plan]
    m = MODELS_ASSUMED[model_id]
    million = Decimal(1_000_000)
    wait = m.first_token_seconds + completion / m.stream_tokens_per_second
    seconds = _d(wait + GATEWAY_OVERHEAD_SECONDS)
    lam = price("lambda_request_per_million") + million * seconds * Decimal(
        STREAM_MEMORY_MB
    ) / 1024 * price("lambda_arm_gb_second")
    gateway = Decimal(0)
    logs = ops[path].log_bytes + LAMBDA_PLATFORM_LOG_BYTES
    ddb_r, ddb_w = ops[path].rru, ops[path].wru
    if path == "api_gateway":
        gateway = price("apigw_rest_per_million")
        logs += API_ACCESS_LOG_BYTES
        auth = ops["authorizer"]
        share = _d(AUTHORIZER_CALLS_PER_REQUEST)
        lam += share * (
            price("lambda_request_per_million")
            + million
            * _d(AUTHORIZER_SECONDS * AUTHORIZER_MEMORY_MB / 1024)
            * price("lambda_arm_gb_second")
        )
        ddb_r += auth.rru * AUTHORIZER_CALLS_PER_REQUEST
        logs += int((auth.log_bytes + LAMBDA_PLATFORM_LOG_BYTES) * AUTHORIZER_CALLS_PER_REQUEST)
    dynamodb = _d(ddb_r) * price("ddb_rru_per_million") + _d(ddb_w) * price("ddb_wru_per_million")
    cloudwatch = million * Decimal(logs) / Decimal(1024**3) * price("cloudwatch_logs_ingest_per_gb")
    work = prompt * PREFILL_WEIGHT + completion
    instance_seconds = work / m.instance_tokens_per_second / UTILISATION
    sagemaker = million * _d(instance_seconds) * m.price_per_hour / Decimal(3600)
    revenue = million * MODELS[model_id].price_per_1k_tokens * (prompt + completion) / 1000
    return {
        "api_gateway": gateway,
        "lambda": lam,
        "dynamodb": dynamodb,
        "cloudwatch": cloudwatch,
        "sagemaker": sagemaker,
        "revenue": revenue,
        "wait_seconds": _d(wait),
    }


def _money(x: Decimal) -> str:
    return f"{x:,.2f}"


SIZING = ROOT / "benchmarks" / "function_sizing.json"
SIZED_FUNCTIONS = {  # the function, and what its numbers in the sizing table are
    "GatewayStreamFunction": "stream",
    "ChatStreamFunction": "stream",
    "AuthorizerFunction": "authorizer",
    "ChatFunction": "chat",
    "DashboardFunction": "dashboard",
}


def render_sizing(w: Any) -> None:
    """The measured function sizes (benchmarks/function_sizing.py --save) and the MemorySize set."""
    import json

    w("## Function sizes (measured under a CPU quota)\n")
    if not SIZING.exists():
        w("No measurement saved: run `python -m benchmarks.function_sizing --save`.\n")
        return
    data = json.loads(SIZING.read_text())
    w(
        f"`python -m benchmarks.function_sizing --save`, {data['measured']}: each function's real "
        f"process with the CPU share Lambda gives the memory size (one vCPU at 1,769 MB), limited "
        f"by {data['mechanism']}; {data['cores']} cores shared with other engineers' test runs, so "
        "wall times carry their load (the busy-loop column shows the share each run really got; "
        "CPU seconds do not depend on it).\n"
    )
    w(
        "| MB | CPU share | busy loop got | peak RSS MB | ready s (own CPU s) | first stream s | "
        "added first byte ms | written / relayed at 30, 100, 300 tokens/s | relay CPU ms per "
        "token | tokens/s the share sustains |"
    )
    w("|---|---|---|---|---|---|---|---|---|---|")
    for r in data["stream"]:
        rates = ", ".join(f"{v[0]:.0f} / {v[1]:.0f}" for v in r["rates"].values())
        per_token = r["cpu_ms_per_token"]
        sustains = r["mb"] / 1769 * 1000 / per_token if per_token > 0 else float("inf")
        w(
            f"| {r['mb']} | {r['mb'] / 1769:.3f} | {r['busy']:.3f} | {r['peak_rss_mb']:.0f} | "
            f"{r['ready_s']:.2f} ({r['ready_cpu_s']:.2f}) | {r['first_stream_s']:.2f} | "
            f"{r['added_ttfb_ms']:+.1f} | {rates} | {per_token:.2f} | {sustains:,.0f} |"
        )
    w(
        "\nWhere 'relayed' falls below 'written' at every size alike, the machine, not the quota, "
        "was short of CPU (the busy-loop column); the last two columns are the contention-free "
        "test: the relay's own CPU per token against its share."
    )
    w("\n| function | MB | import s | first call s | warm call ms | peak RSS MB |")
    w("|---|---|---|---|---|---|")
    for h in data["handlers"]:
        w(
            f"| {h['name']} | {h['mb']} | {h['import_s']:.2f} | {h['first_call_s']:.3f} | "
            f"{h['warm_ms']:.1f} | {h['peak_rss_mb']:.0f} |"
        )
    w("\nMemorySize in template.yaml (all arm64; the template says why next to each):\n")
    for logical_id in SIZED_FUNCTIONS:
        w(f"- {logical_id}: {memory_mb(logical_id)} MB")
    w(
        "\nThe streaming functions wait on the model for most of what they are billed, so they get "
        "the least memory that keeps the relay well ahead of any cited stream speed and the first "
        "byte within tens of milliseconds: 192 MB (the relay's CPU per token is an upper bound: it "
        "includes the request's own reserve and settle, spread over 60 tokens). Two earlier runs "
        "the same hour, on a less loaded machine, gave first-byte additions of +19 and +16 ms at "
        "192 MB (+89 and +47 at 128); a third, on a loaded one, had 300 tokens/s relayed at ~190 "
        "at every size including 1,024 MB, which is the machine, not the quota. The Mangum "
        "functions run for milliseconds, so their memory buys first-call latency for cents.\n"
    )


def render_fixes(w: Any, misses: list[Any]) -> None:
    """For each row that misses a goal: the price, or the model speed, that would meet both."""
    w("### What would fix the rows that miss\n")
    w(
        "Prices are the product's, not this code's. The price column alone meets both goals on the "
        "row; on the model's side it takes both of the other two: the instance throughput for a "
        "positive margin (at today's stream speed) and the stream speed that fits the Lambda wait "
        "in the 10% share.\n"
    )
    w(
        "| row | price per 1K tokens for both goals (now) | instance tokens/s for a positive "
        "margin (now) | stream tokens/s for a 10% gateway (now) |"
    )
    w("|---|---|---|---|")
    per_second = (
        Decimal(1_000_000) * Decimal(STREAM_MEMORY_MB) / 1024 * price("lambda_arm_gb_second")
    )
    for plan, model_id, _share, _margin, gateway, c in misses:
        from sparkai.catalog import MODELS

        prompt, completion = TYPICAL_REQUEST[plan]
        m = MODELS_ASSUMED[model_id]
        per_1k_requests = Decimal(1_000_000) * (prompt + completion) / 1000
        needed = max(gateway + c["sagemaker"], gateway / GATEWAY_SHARE_GOAL) / per_1k_requests
        room = c["revenue"] - gateway
        tps = (
            f"{m.instance_tokens_per_second * float(c['sagemaker'] / room):,.0f}"
            if room > 0
            else "none: the gateway alone costs the revenue"
        )
        # The Lambda seconds the 10% share leaves, after the gateway's fixed lines.
        fixed = gateway - (c["lambda"] - price("lambda_request_per_million"))
        wait = (c["revenue"] * GATEWAY_SHARE_GOAL - fixed) / per_second
        left = wait - _d(m.first_token_seconds + GATEWAY_OVERHEAD_SECONDS)
        stream = (
            "met already"
            if gateway <= c["revenue"] * GATEWAY_SHARE_GOAL
            else f"{completion / left:,.0f}"
            if left > 0
            else "none: the fixed lines alone are over"
        )
        w(
            f"| {plan}/{model_id} | ${needed:.4f} (${MODELS[model_id].price_per_1k_tokens}) | "
            f"{tps} ({m.instance_tokens_per_second:,.0f}) | {stream} "
            f"({m.stream_tokens_per_second:.1f}) |"
        )
    w(
        "\nFaster streams also lower the gateway, so the two model-side columns together are an "
        "upper bound on what is needed. No published batched figure for Qwen2.5-14B on one A10G (AWQ) or on four (TP 4) "
        "was found: one such benchmark decides spark-pro, and g6/g6e (L4/L40S) prices would open "
        "more options (no stored source found for them).\n"
    )


def render_inference_components(w: Any) -> None:
    from model_endpoints.config import load_config
    from model_endpoints.instances import price_per_hour

    config = load_config()
    hours = Decimal(730)
    floor = Decimal(0)
    for model in config.models.values():
        hourly = price_per_hour(model.instance_type) or Decimal(0)
        floor += hourly * model.autoscaling.min_capacity * hours
    big = price_per_hour("ml.g5.12xlarge") or Decimal(0)
    small = price_per_hour("ml.g5.xlarge") or Decimal(0)
    w("## SageMaker inference components\n")
    w(
        "Inference components put several models on one endpoint's instances and can scale a "
        "model to zero copies. They are not used, because at the stated utilisation they cost more:\n"
    )
    w(
        f"- **Packing.** A component gets whole GPUs (NumberOfAcceleratorDevicesRequired, minimum 1; "
        "CloudFormation AWS::SageMaker::InferenceComponent), so models cannot share an A10G. "
        f"The only multi-GPU size priced, ml.g5.12xlarge, is ${big / 4:.2f} per GPU-hour against "
        f"${small} for ml.g5.xlarge, and spark-pro's tensor parallelism takes all four of its GPUs: "
        "packing spark-turbo and spark-1 onto one would pay for two idle GPUs. Per token, a model "
        "costs the same packed or alone at the same utilisation; packing only lowers the floor, "
        "and here it raises it."
    )
    w(
        f"- **Scale to zero.** The floor today (every model's min_capacity, 730 hours) is "
        f"${floor:,.0f} a month. Scaling a component to zero removes its share while idle, but the "
        "endpoint then needs a step-scaling alarm to come back, provisioning 'takes several "
        "minutes' and 'any attempts to invoke the endpoint will produce an error' meanwhile (AWS "
        "docs, 'Scale an endpoint to zero instances'). Here that is the instance plus the "
        "container's start, the weights' download and load: models.toml allows 600 s (spark-turbo) "
        "to 1,200 s (spark-pro). Every request in that window is refused before any token (503 "
        "model_unavailable where SageMaker's answer is one sparkai/endpoints/sagemaker.py knows as "
        "'not ready' or 'not found', else 502 model_error), and nothing is metered for it. Worth it only for a model idle for hours at a "
        "time (spark-pro's $"
        + f"{(price_per_hour('ml.g5.12xlarge') or 0) * hours:,.0f}"
        + " a month at one instance), which the 50% utilisation assumed here rules out.\n"
    )


def render(ops: dict[str, Operations]) -> str:
    from sparkai.catalog import MODELS

    out: list[str] = []
    w = out.append
    w("# Cost model\n")
    w(
        "Generated by `python -m benchmarks.cost_model` from measured request counts and the prices "
        f"below (us-east-1, read {PRICES_DATE.isoformat()}). Do not edit by hand: change the "
        "assumptions in `benchmarks/cost_model.py` and run it again.\n"
    )
    w("## Measured per request (this code, botocore hook on the functions' own clients)\n")
    w("| path | DynamoDB operations | read units | write units | log bytes |")
    w("|---|---|---|---|---|")
    names = {
        "authorizer": "authorizer (API Gateway caches it per key for 60 s)",
        "api_gateway": "chat through API Gateway (principal from the authorizer)",
        "function_url": (
            "chat through the Function URL (a key the function remembers: vouched for by the "
            "reservation's keys-epoch condition; 2 more GetItems when first seen, then every 5 min)"
        ),
    }
    for key, label in names.items():
        o = ops[key]
        calls = ", ".join(f"{n} {op}" for op, n in sorted(o.calls.items())) or "-"
        w(f"| {label} | {calls} | {o.rru:g} | {o.wru:g} | {o.log_bytes} |")
    w(
        "\nRead units: a consistent GetItem of an item under 4 KB is 1, an eventually consistent one "
        "0.5; write units: 1 per item under 1 KB, 2 per item inside TransactWriteItems.\n"
    )
    render_sizing(w)
    w("## Assumed\n")
    w(
        "- Typical request per plan (prompt + completion tokens): "
        + "; ".join(f"{p} {a} + {b}" for p, (a, b) in TYPICAL_REQUEST.items())
        + "."
    )
    for model_id, m in MODELS_ASSUMED.items():
        w(
            f"- {model_id}: {m.instance_type} at ${m.price_per_hour}/hour, "
            f"{m.stream_tokens_per_second:.1f} tokens/s per stream, "
            f"{m.instance_tokens_per_second:,.0f} tokens/s per instance at the configured batch, "
            f"first token {m.first_token_seconds:.2f} s. Cited: {m.basis}."
        )
    w(
        f"- SageMaker utilisation {UTILISATION:.0%} (capacity sold, averaged over the day); prefill "
        "costs a tenth of a generated token per prompt token. The serving option of each model is "
        "the cheapest cited one that keeps its promised stream speed (`sparkai-endpoints plan` "
        "checks it; model_endpoints/models.toml holds the figures and their sources)."
    )
    w(
        f"- Lambda: the API Gateway chat path's function (GatewayStreamFunction) at "
        f"{STREAM_MEMORY_MB} MB arm64 (template.yaml, from the measurements above), billed for the "
        "whole wait on the model (first token + completion / stream speed) plus "
        f"{GATEWAY_OVERHEAD_SECONDS * 1000:g} ms; the authorizer runs for "
        f"{AUTHORIZER_CALLS_PER_REQUEST:.0%} of requests ({AUTHORIZER_MEMORY_MB} MB, "
        f"{AUTHORIZER_SECONDS * 1000:g} ms)."
    )
    w(
        f"- CloudWatch: the measured log bytes, plus {API_ACCESS_LOG_BYTES} bytes of API Gateway access "
        f"log and {LAMBDA_PLATFORM_LOG_BYTES} bytes of Lambda START/END/REPORT per request; "
        "custom metrics (EMF) are billed per metric per month, not per request, and left out.\n"
    )
    w("## Dollars per million requests (API Gateway path)\n")
    w(
        "| plan | model | API Gateway | Lambda | DynamoDB | CloudWatch | gateway total | share of "
        "revenue | SageMaker | revenue | margin after all | break-even utilisation |"
    )
    w("|---|---|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    for plan in TYPICAL_REQUEST:
        for model_id in MODELS:
            c = costs_per_million(plan, model_id, ops)
            gateway = c["api_gateway"] + c["lambda"] + c["dynamodb"] + c["cloudwatch"]
            share = gateway / c["revenue"]
            margin = c["revenue"] - gateway - c["sagemaker"]
            rows.append((plan, model_id, share, margin, gateway, c))
            over = share > GATEWAY_SHARE_GOAL
            room = c["revenue"] - gateway
            even = c["sagemaker"] * _d(UTILISATION) / room if room > 0 else None
            w(
                f"| {plan} | {model_id} | {_money(c['api_gateway'])} | {_money(c['lambda'])} | "
                f"{_money(c['dynamodb'])} | {_money(c['cloudwatch'])} | {_money(gateway)} | "
                f"{'**' if over else ''}{share:.1%}{'**' if over else ''} | "
                f"{_money(c['sagemaker'])} | {_money(c['revenue'])} | "
                f"{'**' if margin <= 0 else ''}{_money(margin)}{'**' if margin <= 0 else ''} | "
                f"{'never' if even is None else f'{even:.0%}'} |"
            )
    misses = [r for r in rows if r[2] > GATEWAY_SHARE_GOAL or r[3] <= 0]
    w("")
    w(
        f"Goals: a positive margin after everything, and the gateway at most "
        f"{GATEWAY_SHARE_GOAL:.0%} of revenue, on every row. Met on "
        f"{len(rows) - len(misses)} of {len(rows)} rows"
        + (
            f"; missed (bold) on {', '.join(f'{p}/{m}' for p, m, *_ in misses)}.\n"
            if misses
            else ".\n"
        )
    )
    if misses:
        render_fixes(w, misses)
    render_inference_components(w)
    w("## What moves the gateway's share\n")
    base = costs_per_million("pro", "spark-1", ops)
    gb_s = base["lambda"] - price("lambda_request_per_million")
    w(
        f"- **Lambda memory while waiting.** A Pro request on spark-1 waits {base['wait_seconds']:.1f} s "
        f"on the model; at {STREAM_MEMORY_MB} MB that is ${_money(gb_s)} per million requests of "
        "GB-seconds, most of the gateway's cost (it was $"
        + _money(gb_s * 1024 / STREAM_MEMORY_MB)
        + " at the former 1,024 MB). The relay's own CPU per token sustains at least 130 tokens/s "
        "at 128 MB and 217 at 192 (the sizing table), so memory buys only first-byte time and "
        "cold start."
    )
    x86 = gb_s * price("lambda_x86_gb_second") / price("lambda_arm_gb_second")
    w(
        f"- **arm64** is {1 - price('lambda_arm_gb_second') / price('lambda_x86_gb_second'):.0%} "
        f"cheaper per GB-s than x86 (${_money(x86)} instead of ${_money(gb_s)} here). Every function "
        "is arm64 with the Web Adapter's LambdaAdapterLayerArm64; the layer's six native "
        "dependencies (cffi, cryptography, httptools, pydantic-core, uvloop, wrapt, at the locked "
        "versions) all publish manylinux2014 aarch64 wheels for CPython 3.12 (checked with "
        "`pip download --platform manylinux2014_aarch64 --only-binary=:all:`)."
    )
    w(
        "- **Faster streams shorten the wait**: the same request on spark-turbo costs "
        f"${_money(costs_per_million('pro', 'spark-turbo', ops)['lambda'])} of Lambda. The stream "
        "speeds here are the cited figures' (lower bounds for spark-turbo and spark-pro), so the "
        "Lambda lines are upper bounds."
    )
    w(
        "- **API Gateway** is a fixed $3.50 per million (REST); the Function URL path has none, "
        "and HTTP APIs ($1.00) lack the usage plans and response streaming the REST API gives."
    )
    w(
        "- **DynamoDB and CloudWatch** are a few dollars per million requests: the limiter's writes "
        "and the usage line matter only on the cheapest rows."
    )
    w(
        f"- **SageMaker** dominates everything else; its cost halves when utilisation doubles "
        f"(here {UTILISATION:.0%}).\n"
    )
    w("## Price sources\n")
    for name, (value, source) in PRICES.items():
        w(f"- `{name}` = {value}: {source}.")
    from model_endpoints.instances import PRICES_PER_HOUR

    for instance_type, (value, source) in PRICES_PER_HOUR.items():
        w(f"- SageMaker `{instance_type}` = ${value}/hour: {source}.")
    w("")
    return "\n".join(out)


def main(argv: list[str]) -> int:
    ops = measure()
    text = render(ops)
    if "--print" in argv:
        print(text)
    else:
        path = ROOT / "docs" / "cost.md"
        path.write_text(text)
        print(f"wrote {path.relative_to(ROOT)}")
        for key, o in ops.items():
            print(f"  {key}: {dict(o.calls)} rru={o.rru:g} wru={o.wru:g} log_bytes={o.log_bytes}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

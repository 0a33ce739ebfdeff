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
    "sagemaker_ml.g5.xlarge_hour": (
        Decimal("1.41"),
        "SageMaker real-time inference, on demand (zircon.tech 'The Real Cost of Running AI "
        "Models on AWS SageMaker', us-east-1, Oct 2025)",
    ),
    "sagemaker_ml.g5.2xlarge_hour": (
        Decimal("1.52"),
        "SageMaker real-time inference (wring.co 'SageMaker Inference: Real-Time vs Serverless')",
    ),
    "sagemaker_ml.g5.12xlarge_hour": (
        Decimal("7.09"),
        "SageMaker real-time inference, ml.g5.12xlarge (AWS SageMaker pricing page; verify "
        "before relying on it)",
    ),
}


def price(name: str) -> Decimal:
    return PRICES[name][0]


# -- assumptions (not measured here: no GPU on this machine) ------------------------------------


@dataclass(frozen=True)
class ModelAssumption:
    instance_type: str
    stream_tokens_per_second: float  # one sequence's decode speed, what a client waits for
    instance_tokens_per_second: float  # all sequences together at max_batch_size (vLLM)
    first_token_seconds: float


MODELS_ASSUMED = {
    # Qwen2.5 on DJL-LMI vLLM, bf16 (model_endpoints/models.toml); public vLLM figures for A10G.
    "spark-turbo": ModelAssumption("ml.g5.xlarge", 90, 2000, 0.15),
    "spark-1": ModelAssumption("ml.g5.2xlarge", 35, 600, 0.30),
    "spark-pro": ModelAssumption("ml.g5.12xlarge", 30, 900, 0.40),
}
UTILISATION = 0.5  # share of instance capacity sold, averaged over the day
TYPICAL_REQUEST = {  # (prompt, completion) tokens per plan
    "starter": (300, 300),
    "pro": (500, 500),
    "enterprise": (2000, 500),
}
AUTHORIZER_CALLS_PER_REQUEST = 0.1  # API Gateway caches its answer per key for 60 s
STREAM_MEMORY_MB = 1024  # Globals MemorySize in template.yaml
AUTHORIZER_MEMORY_MB, AUTHORIZER_SECONDS = 512, 0.010
GATEWAY_OVERHEAD_SECONDS = 0.015  # measured added latency order of magnitude (bench-peer)
API_ACCESS_LOG_BYTES = 900  # one JSON line per request (template.yaml AccessLogSetting)
LAMBDA_PLATFORM_LOG_BYTES = 350  # START / END / REPORT lines


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
    instance_seconds = (prompt / 10 + completion) / m.instance_tokens_per_second / UTILISATION
    sagemaker = (
        million * _d(instance_seconds) * price(f"sagemaker_{m.instance_type}_hour") / Decimal(3600)
    )
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
    w("## Assumed\n")
    w(
        "- Typical request per plan (prompt + completion tokens): "
        + "; ".join(f"{p} {a} + {b}" for p, (a, b) in TYPICAL_REQUEST.items())
        + "."
    )
    for model_id, m in MODELS_ASSUMED.items():
        w(
            f"- {model_id}: {m.instance_type}, {m.stream_tokens_per_second:g} tokens/s per stream, "
            f"{m.instance_tokens_per_second:g} tokens/s per instance at full batch, first token "
            f"{m.first_token_seconds:g} s."
        )
    w(
        f"- SageMaker utilisation {UTILISATION:.0%} (capacity sold, averaged over the day); prefill "
        "costs a tenth of a generated token per prompt token."
    )
    w(
        f"- Lambda: {STREAM_MEMORY_MB} MB arm64, billed for the whole wait on the model (first token + "
        f"completion / stream speed) plus {GATEWAY_OVERHEAD_SECONDS * 1000:g} ms; the authorizer runs "
        f"for {AUTHORIZER_CALLS_PER_REQUEST:.0%} of requests ({AUTHORIZER_MEMORY_MB} MB, "
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
        "revenue | SageMaker | revenue | margin after all |"
    )
    w("|---|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    for plan in TYPICAL_REQUEST:
        for model_id in MODELS:
            c = costs_per_million(plan, model_id, ops)
            gateway = c["api_gateway"] + c["lambda"] + c["dynamodb"] + c["cloudwatch"]
            share = gateway / c["revenue"]
            margin = c["revenue"] - gateway - c["sagemaker"]
            rows.append((plan, model_id, share, c))
            w(
                f"| {plan} | {model_id} | {_money(c['api_gateway'])} | {_money(c['lambda'])} | "
                f"{_money(c['dynamodb'])} | {_money(c['cloudwatch'])} | **{_money(gateway)}** | "
                f"{'**' if share >= Decimal('0.05') else ''}{share:.1%}"
                f"{'**' if share >= Decimal('0.05') else ''} | {_money(c['sagemaker'])} | "
                f"{_money(c['revenue'])} | {_money(margin)} |"
            )
    under = [f"{p}/{m}" for p, m, s, _ in rows if s < Decimal("0.05")]
    over = [f"{p}/{m}" for p, m, s, _ in rows if s >= Decimal("0.05")]
    w("")
    w(f"Gateway share under 5% of revenue: {', '.join(under) or 'none'}.  ")
    w(f"At or over 5% (bold): {', '.join(over) or 'none'}.\n")
    w("## What moves the gateway's share\n")
    base = costs_per_million("pro", "spark-1", ops)
    gb_s = base["lambda"] - price("lambda_request_per_million")
    w(
        f"- **Lambda memory while waiting.** A Pro request on spark-1 waits {base['wait_seconds']:.1f} s "
        f"on the model; at {STREAM_MEMORY_MB} MB that is ${_money(gb_s)} per million requests of "
        "GB-seconds, most of the gateway's cost. The relay needs little CPU (it forwards chunks; "
        "benchmarks/warm_overhead.py), so memory is what to cut: "
        + ", ".join(f"{mb} MB ${_money(gb_s * mb / STREAM_MEMORY_MB)}" for mb in (512, 256, 128))
        + ". Measure cold start and first-token time at the smaller size before changing "
        "MemorySize (CPU scales with memory; SnapStart takes init off the request path)."
    )
    x86 = gb_s * price("lambda_x86_gb_second") / price("lambda_arm_gb_second")
    w(
        f"- **arm64** is {1 - price('lambda_arm_gb_second') / price('lambda_x86_gb_second'):.0%} "
        f"cheaper per GB-s than x86 (${_money(x86)} instead of ${_money(gb_s)} here); every "
        "dependency in the layer has an aarch64 wheel, so there is no reason for x86."
    )
    w(
        "- **Faster models shorten the wait**: the same request on spark-turbo costs "
        f"${_money(costs_per_million('pro', 'spark-turbo', ops)['lambda'])} of Lambda."
    )
    w(
        "- **API Gateway** is a fixed $3.50 per million (REST); the Function URL path has none, "
        "and HTTP APIs ($1.00) lack the usage plans and response streaming the REST API gives."
    )
    w(
        "- **DynamoDB and CloudWatch** are cents per million requests: the limiter's writes and the "
        "usage line are not where the money goes."
    )
    w(
        f"- **SageMaker** dominates everything else; its cost halves when utilisation doubles "
        f"(here {UTILISATION:.0%}). Prices per token, not the gateway, decide the margin.\n"
    )
    w("## Price sources\n")
    for name, (value, source) in PRICES.items():
        w(f"- `{name}` = {value}: {source}.")
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

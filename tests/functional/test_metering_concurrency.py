"""Metering under concurrency, across processes (issue 12): several "Lambda instances" (spawned
processes, each with its own app, clients and limiter hints) call the chat API at once against the
local AWS endpoint (moto's server, one request at a time like DynamoDB's atomic writes) and a
scripted local SageMaker Runtime. Each process runs the production composition (sparkai.wiring, no
dependency override; tests/functional/metering_worker.py): bearer key check, ChatService, the
limiter's reserve/settle and the ledger's transaction; only the process's clock is frozen (no
refill or month change can make a count depend on timing).

- Ledger exactness: the UsageTable totals equal, exactly, the sum of the `usage` objects the calls
  returned (buffered and streamed, three models, both routes).
- Spend-limit exactness: N + k requests at once against a monthly limit that fits exactly N of
  them: N are answered, k get 429 insufficient_quota, and the month's spend never passes the limit.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from sparkai.catalog import MODELS
from sparkai.chat.tokens import prompt_token_bound
from sparkai.plans import Limits
from sparkai.usage.pricing import usd
from sparkai.usage.reporter import UsageReporter
from sparkai_local.aws_server import ProvisionedServer, local_admin, provisioned_server
from sparkai_local.endpoint import LOCAL_TABLES, client, table_environment
from sparkai_local.function_credentials import FUNCTION_URL
from sparkai_local.function_roles import FunctionCredentials
from sparkai_local.sagemaker import Script, ScriptedBackend, create_app
from tests.functional import metering_worker
from tests.support.ledger import ledger_rows, ledger_totals, spend_counter
from tests.support.servers import serve

T0 = 1_795_680_000.0  # 2026-11-26 08:00 UTC, frozen in every worker
PROCESSES = 3

# Different answers per model, so a row landing under the wrong model or price shows.
SCRIPTS = {
    "spark-1": Script(chunks=["a"] * 3, prompt_tokens=11),
    "spark-turbo": Script(chunks=["b"] * 7, prompt_tokens=13),
    "spark-pro": Script(chunks=["c"] * 5, prompt_tokens=17),
}
# Each worker's calls: (route, model, streamed). Both routes, all models, buffered and streamed.
CALLS = [
    ("/v1/chat", "spark-1", False),
    ("/v1/chat", "spark-turbo", True),
    ("/v1/chat/completions", "spark-pro", False),
    ("/v1/chat/completions", "spark-1", True),
    ("/v1/chat", "spark-pro", True),
    ("/v1/chat/completions", "spark-turbo", False),
] * 2


@pytest.fixture(scope="module")
def aws_server() -> Iterator[ProvisionedServer]:
    with provisioned_server() as server:  # each function's IAM role enforced
        yield server


@pytest.fixture(scope="module")
def aws_url(aws_server: ProvisionedServer) -> str:
    return aws_server.url


@pytest.fixture(scope="module")
def function_url_key(aws_server: ProvisionedServer) -> FunctionCredentials:
    """The workers run the Function URL's app: they sign as its function's role."""
    return aws_server.functions[FUNCTION_URL]


@pytest.fixture(scope="module")
def backend() -> ScriptedBackend:
    return ScriptedBackend(dict(SCRIPTS), endpoints=MODELS)


@pytest.fixture(scope="module")
def sagemaker_url(backend: ScriptedBackend) -> Iterator[str]:
    with serve(create_app(backend)) as url:
        yield url


# -- the worker: one "Lambda instance" per process --------------------------------------------------


def _worker_env(aws_url: str, sagemaker_url: str, key: FunctionCredentials) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": key.access_key_id,
        "AWS_SECRET_ACCESS_KEY": key.secret_access_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_DYNAMODB": aws_url,
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": sagemaker_url,
        "SPARKAI_AUTH_MODE": "bearer",
        **table_environment(),
        "POWERTOOLS_SERVICE_NAME": "sparkai-stream-tests",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
    }


def run_workers(
    aws_url: str,
    key: FunctionCredentials,
    sagemaker_url: str,
    secret: str,
    calls_per_process: list[list[tuple[str, str, bool]]],
    max_tokens: int,
) -> list[dict[str, Any]]:
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(len(calls_per_process))
    results = context.Queue()
    env = _worker_env(aws_url, sagemaker_url, key)
    processes = [
        context.Process(
            target=metering_worker.run,
            args=(env, T0, secret, calls, max_tokens, start, results),
        )
        for calls in calls_per_process
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=300) for _ in processes]
    for process in processes:
        process.join(30)
    assert all(p.exitcode == 0 for p in processes), [p.exitcode for p in processes]
    errors = [e for o in outcomes for e in o["errors"]]
    assert errors == []
    return outcomes


# -- what the ledger holds -------------------------------------------------------------------------


def returned_totals(answers: list[dict[str, Any]]) -> dict[str, Any]:
    """What the API told the callers, priced at the catalogue's documented prices."""
    return {
        "requests": len(answers),
        "prompt_tokens": sum(a["usage"]["prompt_tokens"] for a in answers),
        "completion_tokens": sum(a["usage"]["completion_tokens"] for a in answers),
        "cost_usd": sum(
            (
                MODELS[a["model"]].price_per_1k_tokens * a["usage"]["total_tokens"] / 1000
                for a in answers
            ),
            Decimal(0),
        ),
    }


# -- the tests -------------------------------------------------------------------------------------


def test_concurrent_calls_from_several_processes_are_in_the_ledger_exactly(
    aws_url: str, function_url_key: FunctionCredentials, sagemaker_url: str
) -> None:
    # Given an account without a spend limit and with limits no burst reaches
    admin = local_admin(aws_url)
    account = admin.create_account("enterprise", limits=Limits(10_000, 10_000_000))
    admin.set_budget(account.account_id, None)
    key = admin.create_key(account.account_id)

    # When 3 processes make 12 calls each at once (36: buffered and streamed, 3 models, 2 routes)
    outcomes = run_workers(
        aws_url, function_url_key, sagemaker_url, key.secret, [CALLS] * PROCESSES, 64
    )

    # Then every call was answered, and the ledger holds exactly what the answers said they used
    answers = [a for o in outcomes for a in o["answers"]]
    assert len(answers) == len(CALLS) * PROCESSES
    assert all(o["refusals"] == [] for o in outcomes)
    rows = ledger_rows(client("dynamodb", aws_url), account.account_id, LOCAL_TABLES["UsageTable"])
    assert ledger_totals(rows) == returned_totals(answers)
    for model in MODELS:  # and each model's row at its own price
        mine = [a for a in answers if a["model"] == model]
        assert ledger_totals([r for r in rows if r["model"] == model]) == returned_totals(mine)
    # The usage report (GET /v1/usage, sparkai-admin usage) shows the same totals.
    reporter = UsageReporter(
        LOCAL_TABLES["UsageTable"],
        LOCAL_TABLES["AccountsTable"],
        lambda: client("dynamodb", aws_url),
        clock=lambda: T0,
    )
    first, last = reporter.default_range()
    report = reporter.report(account.account_id, first, last)
    expected = returned_totals(answers)
    assert report["totals"]["requests"] == expected["requests"]
    assert Decimal(report["totals"]["cost_usd"]) == expected["cost_usd"]
    assert Decimal(report["month_to_date_usd"]) == expected["cost_usd"]
    # The limiter's month counter settled to the same real cost (no worst case left on it).
    assert (
        spend_counter(
            client("dynamodb", aws_url), account.account_id, LOCAL_TABLES["RateLimitsTable"]
        )
        == expected["cost_usd"]
    )


def test_concurrent_calls_near_the_spend_limit_never_exceed_it(
    aws_url: str,
    function_url_key: FunctionCredentials,
    sagemaker_url: str,
    backend: ScriptedBackend,
) -> None:
    # Given answers that use exactly their worst case (the prompt's upper bound + max_tokens, what
    # the spend reservation holds), so no settle gives anything back and the number that fit does
    # not depend on the order
    max_tokens = 40
    prompt = prompt_token_bound(metering_worker.MESSAGES)
    backend.set_script("spark-pro", Script(chunks=["x"] * max_tokens, prompt_tokens=prompt))
    per_call = MODELS["spark-pro"].price_per_1k_tokens * (prompt + max_tokens) / 1000
    fit = 7
    admin = local_admin(aws_url)
    account = admin.create_account("enterprise", limits=Limits(10_000, 10_000_000))
    admin.set_budget(account.account_id, per_call * fit)  # a limit that fits exactly 7 calls
    key = admin.create_key(account.account_id)

    # When 3 processes send 4 calls each at once (12 = 7 + 5), buffered and streamed
    calls = [
        ("/v1/chat", "spark-pro", False),
        ("/v1/chat", "spark-pro", True),
        ("/v1/chat/completions", "spark-pro", False),
        ("/v1/chat/completions", "spark-pro", True),
    ]
    outcomes = run_workers(
        aws_url, function_url_key, sagemaker_url, key.secret, [calls] * PROCESSES, max_tokens
    )

    # Then exactly the 7 that fit ran, the other 5 were told why, without a retry-after
    answers = [a for o in outcomes for a in o["answers"]]
    refusals = [r for o in outcomes for r in o["refusals"]]
    assert len(answers) == fit
    assert len(refusals) == len(calls) * PROCESSES - fit
    for refusal in refusals:
        assert refusal["body"]["error"]["code"] == "insufficient_quota"
        assert refusal["body"]["error"]["type"] == "insufficient_quota"
        assert f"limit of ${usd(per_call * fit)}" in refusal["body"]["error"]["message"]
        assert refusal["retry_after"] is None
    # And the month's spend, in the ledger and on the limiter, is at most the limit (here: equal)
    rows = ledger_rows(client("dynamodb", aws_url), account.account_id, LOCAL_TABLES["UsageTable"])
    assert ledger_totals(rows) == returned_totals(answers)
    assert ledger_totals(rows)["cost_usd"] == per_call * fit
    assert (
        spend_counter(
            client("dynamodb", aws_url), account.account_id, LOCAL_TABLES["RateLimitsTable"]
        )
        <= per_call * fit
    )

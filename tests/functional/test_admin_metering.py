"""sparkai-admin's metering commands against moto (issue 12), driven as an operator runs them:
`account set-budget ACCOUNT --monthly-usd N|none` (the account and every key item change, and the
next reservation enforces it) and `usage ACCOUNT --month YYYY-MM [--csv]` (rows and totals are the
ledger's, written by the real ChatService and limiter with a fixed clock)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sparkai.api.app import create_app
from sparkai.chat.schemas import parse_chat_request
from sparkai.chat.service import ChatService
from sparkai.chat.tokens import EstimatingTokenCounter
from sparkai.chat.usage import LogUsageRecorder
from sparkai.endpoints.port import ModelReply, TokenUsage
from sparkai.keys.records import Principal
from sparkai.limits.limiter import DynamoDBRateLimiter
from sparkai.plans import Limits
from sparkai_admin.cli import main as admin_main
from tests.conftest import TABLES, queue_sagemaker_results
from tests.functional.test_chat_handler import TGI_ANSWER
from tests.support.admin_cli import run_cli
from tests.support.clock import Clock
from tests.support.dynamodb_calls import DynamoDBCalls

NOV_26 = 1_795_680_000.0  # 2026-11-26 08:00 UTC
DAY = 86_400.0
OCT_31 = NOV_26 - 26 * DAY  # 2026-10-31: the month before, never in November's report


def create_account(capsys: pytest.CaptureFixture[str], plan: str = "starter") -> str:
    code, out, err = run_cli(capsys, "--json", "account", "create", "--plan", plan)
    assert code == 0, err
    return json.loads(out)["account_id"]


def create_key(capsys: pytest.CaptureFixture[str], account_id: str) -> tuple[str, str]:
    code, out, err = run_cli(capsys, "--json", "key", "create", account_id)
    assert code == 0, err
    created = json.loads(out)
    return created["key"], created["key_id"]


def stored_limits(dynamodb: Any, account_id: str) -> tuple[Decimal | None, list[Decimal | None]]:
    """spend_limit_usd as stored: on the account item, and on each of its key items."""
    account = dynamodb.get_item(
        TableName=TABLES["AccountsTable"], Key={"account_id": {"S": account_id}}
    )["Item"]
    keys = dynamodb.scan(TableName=TABLES["ApiKeysTable"])["Items"]

    def limit(item: dict[str, Any]) -> Decimal | None:
        value = item.get("spend_limit_usd", {}).get("N")
        return None if value is None else Decimal(value)

    return limit(account), [limit(k) for k in keys if k["account_id"]["S"] == account_id]


# -- set-budget ------------------------------------------------------------------------------------


@pytest.fixture
def api(moto: None) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield client


def chat(api: TestClient, secret: str) -> Any:
    return api.post(
        "/v1/chat",
        json={"model": "spark-1", "messages": [{"role": "user", "content": "Hi"}]},
        headers={"Authorization": f"Bearer {secret}"},
    )


def test_set_budget_updates_the_account_and_every_key_and_the_next_request_obeys_it(
    api: TestClient, dynamodb: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a Starter account (the $100 default) with two keys, one of them just used
    account_id = create_account(capsys)
    first, _ = create_key(capsys, account_id)
    second, _ = create_key(capsys, account_id)
    assert stored_limits(dynamodb, account_id) == (100, [100, 100])
    queue_sagemaker_results(json.dumps(TGI_ANSWER))
    assert chat(api, first).status_code == 200

    # When the operator sets a budget smaller than one request's worst case
    code, out, _ = run_cli(capsys, "account", "set-budget", account_id, "--monthly-usd", "0.0001")

    # Then the account and both keys carry it, and the next request on either key is refused
    assert code == 0 and "monthly spend limit=$0.0001" in out
    assert stored_limits(dynamodb, account_id) == (Decimal("0.0001"), [Decimal("0.0001")] * 2)
    for secret in (first, second):
        refused = chat(api, secret)
        assert refused.status_code == 429, refused.text
        error = refused.json()["error"]
        assert error["code"] == "insufficient_quota" and "$0.0001" in error["message"]
        assert "retry-after" not in refused.headers

    # When the budget is removed, nothing stops the account any more
    code, out, _ = run_cli(
        capsys, "--json", "account", "set-budget", account_id, "--monthly-usd", "none"
    )
    assert code == 0 and json.loads(out)["spend_limit_usd"] is None
    assert stored_limits(dynamodb, account_id) == (None, [None, None])
    queue_sagemaker_results(json.dumps(TGI_ANSWER))
    answered = chat(api, second)
    assert answered.status_code == 200, answered.text


def test_a_key_created_after_set_budget_carries_the_budget(
    dynamodb: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    account_id = create_account(capsys, "pro")
    assert run_cli(capsys, "account", "set-budget", account_id, "--monthly-usd", "12.50")[0] == 0
    create_key(capsys, account_id)
    assert stored_limits(dynamodb, account_id) == (Decimal("12.5"), [Decimal("12.5")])


@pytest.mark.parametrize("amount", ["-1", "ten", "NaN"])
def test_set_budget_refuses_what_is_not_an_amount(
    moto: None, capsys: pytest.CaptureFixture[str], amount: str
) -> None:
    account_id = create_account(capsys)
    with pytest.raises(SystemExit) as exited:
        admin_main(["account", "set-budget", account_id, "--monthly-usd", amount])
    assert exited.value.code == 2
    assert "--monthly-usd" in capsys.readouterr().err


def test_set_budget_on_an_unknown_account_is_an_error(
    moto: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(capsys, "account", "set-budget", "acct_nope", "--monthly-usd", "5")
    assert code == 1 and "acct_nope" in err


# -- usage -----------------------------------------------------------------------------------------


class CountingModel:
    """The model-endpoint port (a fake): each answer reports the next of `usages`."""

    def __init__(self, usages: list[TokenUsage]) -> None:
        self._usages = iter(usages)

    def invoke(self, payload: dict[str, Any]) -> ModelReply:
        return ModelReply("ok", "stop", next(self._usages))

    def stream(self, payload: dict[str, Any]) -> Any:  # pragma: no cover - buffered only here
        raise AssertionError("not streamed in this test")


def test_usage_shows_the_ledgers_rows_and_totals_as_text_json_and_csv(
    dynamodb: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an account with two keys whose calls the real service metered: two days and two
    # models in November, and one call on 31 October
    account_id = create_account(capsys, "pro")
    _, key_a = create_key(capsys, account_id)
    _, key_b = create_key(capsys, account_id)
    clock = Clock(NOV_26)
    usages = [TokenUsage(p, c) for p, c in [(99, 1), (10, 5), (21, 8), (7, 13), (30, 1), (4, 4)]]
    model = CountingModel(usages)
    service = ChatService(
        endpoint_for=lambda _: model,
        limiter=DynamoDBRateLimiter(
            TABLES["RateLimitsTable"],
            lambda: dynamodb,
            clock=clock,
            usage_table=TABLES["UsageTable"],
        ),
        tokens=EstimatingTokenCounter(),
        usage=LogUsageRecorder(),
        clock=clock,
    )
    calls = [  # (when, key, model), in the order time passes
        (OCT_31, key_a, "spark-1"),
        (NOV_26, key_a, "spark-1"),
        (NOV_26, key_a, "spark-1"),
        (NOV_26, key_b, "spark-pro"),
        (NOV_26 + DAY, key_a, "spark-1"),
        (NOV_26 + DAY, key_b, "spark-turbo"),
    ]
    returned = []
    for when, key_id, model_id in calls:
        clock.now = when
        principal = Principal(account_id, key_id, "pro", Limits(90, 75_000))
        body = {"model": model_id, "messages": [{"role": "user", "content": "Hi"}]}
        completion = service.complete(principal, parse_chat_request(json.dumps(body).encode()))
        returned.append((when, key_id, model_id, completion.completion.usage))

    # When the operator asks for November
    code, out, err = run_cli(capsys, "--json", "usage", account_id, "--month", "2026-11")
    assert code == 0, err
    report = json.loads(out)

    # Then the rows are the ledger's: one per day, model and key, priced at the catalogue
    price = {
        "spark-1": Decimal("0.0003"),
        "spark-turbo": Decimal("0.0006"),
        "spark-pro": Decimal("0.0012"),
    }
    expected: dict[tuple[str, str, str], dict[str, Any]] = {}
    for when, key_id, model_id, usage in returned:
        if when == OCT_31:
            continue
        day = "2026-11-26" if when == NOV_26 else "2026-11-27"
        row = expected.setdefault(
            (day, model_id, key_id),
            {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost": Decimal(0)},
        )
        row["requests"] += 1
        row["prompt_tokens"] += usage.prompt_tokens
        row["completion_tokens"] += usage.completion_tokens
        row["cost"] += price[model_id] * usage.total_tokens / 1000
    assert report["start"] == "2026-11-01" and report["end"] == "2026-11-30"
    assert [(r["date"], r["model"], r["key_id"]) for r in report["data"]] == sorted(expected)
    for row in report["data"]:
        want = expected[(row["date"], row["model"], row["key_id"])]
        assert (row["requests"], row["prompt_tokens"], row["completion_tokens"]) == (
            want["requests"],
            want["prompt_tokens"],
            want["completion_tokens"],
        )
        assert row["total_tokens"] == want["prompt_tokens"] + want["completion_tokens"]
        assert Decimal(row["cost_usd"]) == want["cost"]
    total_cost = sum((r["cost"] for r in expected.values()), Decimal(0))
    assert report["totals"]["requests"] == 5
    assert report["totals"]["prompt_tokens"] == sum(r["prompt_tokens"] for r in expected.values())
    assert report["totals"]["completion_tokens"] == sum(
        r["completion_tokens"] for r in expected.values()
    )
    assert Decimal(report["totals"]["cost_usd"]) == total_cost
    assert report["spend_limit_usd"] is None  # Pro has no default limit

    # And October holds only its one call
    code, out, _ = run_cli(capsys, "--json", "usage", account_id, "--month", "2026-10")
    october = json.loads(out)
    assert code == 0 and october["totals"]["requests"] == 1
    assert [r["date"] for r in october["data"]] == ["2026-10-31"]

    # And the CSV is the same rows, parseable, with a header
    code, out, _ = run_cli(capsys, "usage", account_id, "--month", "2026-11", "--csv")
    assert code == 0
    parsed = list(csv.DictReader(io.StringIO(out)))
    assert parsed == [{k: str(v) for k, v in row.items()} for row in report["data"]]

    # And the text table ends with the month's totals
    code, out, _ = run_cli(capsys, "usage", account_id, "--month", "2026-11")
    assert code == 0
    total_line = next(line for line in out.splitlines() if line.startswith("total"))
    assert total_line.split()[1:] == [
        "5",
        f"{report['totals']['total_tokens']:,}",
        report["totals"]["cost_usd"],
    ]


def test_usage_of_an_unknown_account_or_a_bad_month_is_an_error(
    moto: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(capsys, "usage", "acct_nope", "--month", "2026-11")
    assert code == 1 and "acct_nope" in err
    with pytest.raises(SystemExit) as exited:
        admin_main(["usage", "acct_nope", "--month", "2026-13"])
    assert exited.value.code == 2 and "not a month" in capsys.readouterr().err


def _ledger_row(dynamodb: Any, account_id: str, day: str, cost: str) -> None:
    dynamodb.put_item(
        TableName=TABLES["UsageTable"],
        Item={
            "pk": {"S": account_id},
            "sk": {"S": f"{day}#spark-1#key_1#0.0003"},
            "date": {"S": day},
            "model": {"S": "spark-1"},
            "key_id": {"S": "key_1"},
            "requests": {"N": "1"},
            "prompt_tokens": {"N": "10"},
            "completion_tokens": {"N": "10"},
            "cost_usd": {"N": cost},
        },
    )


@pytest.mark.parametrize(
    ("start", "end", "queries"),
    [
        (None, None, 1),  # this month so far: the month's spend comes from the same rows
        ("2026-10-01", "2026-11-30", 1),  # covers the month so far too
        ("2026-10-01", "2026-10-31", 2),  # last month only: this month is queried on its own
        ("2026-11-02", "2026-11-26", 2),  # misses the 1st
    ],
)
def test_the_months_spend_is_read_once_when_the_report_already_covers_it(
    dynamodb: Any, start: str | None, end: str | None, queries: int
) -> None:
    from sparkai.usage.reporter import UsageReporter

    account = "acct_mtd"
    for day, cost in [
        ("2026-10-31", "5"),  # last month
        ("2026-11-01", "0.25"),
        ("2026-11-26", "0.5"),  # today, by the reporter's clock
        ("2026-11-27", "7"),  # a row another instance's clock already dates tomorrow
    ]:
        _ledger_row(dynamodb, account, day, cost)
    noon = 1795694400.0  # 2026-11-26T12:00:00Z
    reporter = UsageReporter(
        TABLES["UsageTable"], TABLES["AccountsTable"], lambda: dynamodb, clock=lambda: noon
    )
    first, last = reporter.default_range(start, end)
    with DynamoDBCalls(dynamodb) as calls:
        report = reporter.report(account, first, last)
    assert report["month_to_date_usd"] == "0.75"  # Nov 1st and today; not October, not the 27th
    assert [operation for operation, _ in calls.calls].count("Query") == queries

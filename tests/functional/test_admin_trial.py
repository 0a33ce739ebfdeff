"""The operator's side of a trial (issue 25 §3), driven as an operator runs sparkai-admin against
moto: see what a trial used, raise its credit, or end it for a paying customer; the customer's
existing key obeys each change on its next request."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest
from fastapi.testclient import TestClient

from sparkai.api.app import create_app
from sparkai_admin.cli import main as admin_main
from tests.conftest import REGION, TABLES, queue_sagemaker_results
from tests.functional.test_chat_handler import TGI_ANSWER

CHAT = {"model": "spark-1", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 16}


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = admin_main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def api(moto: None) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield client


def chat(api: TestClient, secret: str) -> Any:
    queue_sagemaker_results(json.dumps(TGI_ANSWER))
    return api.post("/v1/chat", json=CHAT, headers={"Authorization": f"Bearer {secret}"})


def stored_trial(account_id: str) -> tuple[str | None, list[str | None]]:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    account = dynamodb.get_item(
        TableName=TABLES["AccountsTable"], Key={"account_id": {"S": account_id}}
    )["Item"]
    keys = dynamodb.scan(TableName=TABLES["ApiKeysTable"])["Items"]
    return account.get("trial_credit_usd", {}).get("N"), [
        k.get("trial_credit_usd", {}).get("N") for k in keys if k["account_id"]["S"] == account_id
    ]


def test_an_operator_sees_raises_and_ends_a_trial(
    api: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a trial account made by the operator (accounts are paid unless told) and its key
    code, out, err = run_cli(
        capsys, "--json", "account", "create", "--plan", "starter", "--trial-usd", "5"
    )
    assert code == 0, err
    account_id = json.loads(out)["account_id"]
    secret = json.loads(run_cli(capsys, "--json", "key", "create", account_id)[1])["key"]
    assert stored_trial(account_id) == ("5", ["5"])
    answered = chat(api, secret)
    assert answered.status_code == 200, answered.text
    cost = Decimal("0.0003") * answered.json()["usage"]["total_tokens"] / 1000

    # `account show` says it is a trial and what it used
    code, out, _ = run_cli(capsys, "account", "show", account_id)
    assert code == 0 and f"trial=$5 credit (${cost} used)" in out
    shown = json.loads(run_cli(capsys, "--json", "account", "show", account_id)[1])
    assert Decimal(shown["trial_used_usd"]) == cost

    # When the credit is set to what was used, the next request is 429 insufficient_quota
    assert run_cli(capsys, "account", "set-trial", account_id, "--credit-usd", str(cost))[0] == 0
    refused = chat(api, secret)
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "insufficient_quota"

    # A plan change alone leaves the trial on, and the operator is told so
    code, _, err = run_cli(capsys, "account", "set-plan", account_id, "--plan", "pro")
    assert code == 0 and "still a trial" in err and "set-trial" in err
    assert chat(api, secret).status_code == 429

    # When the operator ends the trial (a paying customer), account and key are paid at once
    code, out, _ = run_cli(
        capsys, "--json", "account", "set-trial", account_id, "--credit-usd", "none"
    )
    assert code == 0 and json.loads(out)["trial_credit_usd"] is None
    assert stored_trial(account_id) == (None, [None])
    assert chat(api, secret).status_code == 200
    code, out, _ = run_cli(capsys, "account", "show", account_id)
    assert "trial=none (paid)" in out


@pytest.mark.parametrize("amount", ["-1", "ten", "NaN"])
def test_set_trial_refuses_what_is_not_an_amount(
    moto: None, capsys: pytest.CaptureFixture[str], amount: str
) -> None:
    account_id = json.loads(run_cli(capsys, "--json", "account", "create", "--plan", "starter")[1])[
        "account_id"
    ]
    with pytest.raises(SystemExit) as exited:
        admin_main(["account", "set-trial", account_id, "--credit-usd", amount])
    assert exited.value.code == 2

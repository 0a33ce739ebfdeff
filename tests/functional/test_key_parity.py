"""The Function URL path checks keys itself. It must accept and refuse exactly the keys the API
Gateway authorizer does: both run the same Authenticator over the same KeyStore."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from sparkai.api.app import create_app
from tests.conftest import KeyFactory, queue_sagemaker_results
from tests.functional.test_chat_handler import TGI_ANSWER
from tests.support.events import load_event
from tests.support.lambda_harness import invoke

VALID = "sk-spark-parity-valid-key-00000000000000000000"
REVOKED = "sk-spark-parity-revoked-key-0000000000000000000"
EXPIRED = "sk-spark-parity-expired-key-0000000000000000000"


def seed(make_key: KeyFactory) -> None:
    make_key(secret=VALID)
    revoked = make_key(secret=REVOKED)
    make_key.admin.revoke_key(revoked.record.key_id)
    expired = make_key(secret=EXPIRED)
    make_key.admin._keys.update(expired.record.key_hash, expires_at=1)


CASES: dict[str, Callable[[], dict[str, str]]] = {
    "valid": lambda: {"Authorization": f"Bearer {VALID}"},
    "valid, lower-case scheme": lambda: {"Authorization": f"bearer {VALID}"},
    "unknown": lambda: {"Authorization": "Bearer sk-spark-parity-unknown-key-000000000000000"},
    "revoked": lambda: {"Authorization": f"Bearer {REVOKED}"},
    "expired": lambda: {"Authorization": f"Bearer {EXPIRED}"},
    "missing header": dict,
    "wrong scheme": lambda: {"Authorization": f"Token {VALID}"},
    "no prefix": lambda: {"Authorization": "Bearer " + VALID.removeprefix("sk-spark-")},
    "two tokens": lambda: {"Authorization": f"Bearer {VALID} {VALID}"},
    "x-api-key instead": lambda: {"x-api-key": VALID},
}


def authorizer_allows(headers: dict[str, str]) -> bool:
    event = load_event("authorizer/valid-key")
    event["headers"] = headers
    try:
        result = invoke("AuthorizerFunction", event)
    except Exception as exc:
        assert str(exc) == "Unauthorized"
        return False
    return result["policyDocument"]["Statement"][0]["Effect"] == "Allow"


@pytest.mark.parametrize("case", list(CASES))
def test_both_paths_give_the_same_verdict(moto: None, make_key: KeyFactory, case: str) -> None:
    seed(make_key)
    headers = CASES[case]()
    queue_sagemaker_results(json.dumps(TGI_ANSWER))
    with TestClient(create_app()) as client:
        status = client.post(
            "/v1/chat",
            json={"model": "spark-1", "messages": [{"role": "user", "content": "hi"}]},
            headers=headers,
        ).status_code
    assert status in (200, 401)
    expected_allowed = case.startswith("valid")
    assert authorizer_allows(headers) is expected_allowed
    assert (status == 200) is expected_allowed

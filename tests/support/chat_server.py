"""The real chat app under uvicorn on the bearer (Function URL) path, talking to the local
SageMaker runtime (a scripted model) and moto's DynamoDB: what the streaming and billing test
modules run against. The fixtures are named chat_* so they cannot clash with the many modules that
define their own `api`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest

from sparkai.accounts.service import CreatedKey
from sparkai.api.app import create_app
from tests.support.fixtures_servers import SageMakerServer
from tests.support.ledger import spend_counter
from tests.support.servers import serve

HELLO = {
    "model": "spark-1",
    "messages": [{"role": "user", "content": "Hello, how are you?"}],
    "stream": True,
}


@dataclass
class ChatApi:
    url: str
    key: str
    account_id: str
    model: SageMakerServer
    dynamodb: Any

    def charged(self) -> tuple[dict[str, Any], Decimal]:
        """What the account was charged, where the money is kept: its ledger as GET /v1/usage
        reports it, and the month's spend on its limiter item (what a spend limit checks)."""
        usage = httpx.get(
            f"{self.url}/v1/usage", headers={"Authorization": f"Bearer {self.key}"}, timeout=30
        )
        assert usage.status_code == 200, usage.text
        return usage.json(), spend_counter(self.dynamodb, self.account_id)

    def stream(self, body: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        return httpx.stream(
            "POST",
            f"{self.url}/v1/chat",
            json=body or HELLO,
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=30,
            **kwargs,
        )


@pytest.fixture
def chat_api_for(
    dynamodb: Any, sagemaker_server: SageMakerServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[CreatedKey], ChatApi]]:
    """The app served, as a key's client: `chat_api_for(make_key(...))`."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", sagemaker_server.url)
    with serve(create_app()) as url:
        yield lambda key: ChatApi(
            url, key.secret, key.record.account_id, sagemaker_server, dynamodb
        )


@pytest.fixture
def chat_api(chat_api_for: Callable[[CreatedKey], ChatApi], make_key: Any) -> ChatApi:
    """The app served, as a Pro account's client."""
    return chat_api_for(make_key("pro"))

"""What the request-path benchmarks run against: local AWS (moto with the template's tables) and a
scripted SageMaker server, with this process's environment pointing the app at both; and each
path's sample event for one key. Imports are inside, so `python -m benchmarks` stays light."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from benchmarks.stubs import ROOT

EXAMPLE_KEY = "sk-spark-example-key-for-local-tests-0000000000"  # the events' key


@dataclass(frozen=True)
class LocalWorld:
    aws_url: str
    sagemaker_url: str
    admin: Any  # sparkai.accounts.service.AccountAdmin on the local tables


@contextmanager
def local_world() -> Iterator[LocalWorld]:
    from sparkai.catalog import MODELS
    from sparkai_local.aws_server import LocalAwsServer, local_admin, provision, table_environment
    from sparkai_local.sagemaker import ScriptedBackend, create_app
    from tests.support.servers import serve

    server = LocalAwsServer().start()
    try:
        provision(server.url)
        with serve(create_app(ScriptedBackend(endpoints=MODELS))) as sagemaker_url:
            os.environ.update(
                AWS_ENDPOINT_URL_DYNAMODB=server.url,
                AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=sagemaker_url,
                **table_environment(),
            )
            yield LocalWorld(server.url, sagemaker_url, local_admin(server.url))
    finally:
        server.stop()


def path_events(record: Any) -> dict[str, dict[str, Any]]:
    """The authorizer's, API Gateway chat's (authorizer context of the key `record`) and the
    Function URL's sample events from events/, for the key EXAMPLE_KEY."""

    def load(name: str) -> dict[str, Any]:
        event: dict[str, Any] = json.loads((ROOT / "events" / f"{name}.json").read_text())
        return event

    chat = load("chat/post-chat")
    chat["requestContext"]["authorizer"].update(
        account_id=record.account_id, key_id=record.key_id, key_hash=record.key_hash
    )
    return {
        "authorizer": load("authorizer/valid-key"),
        "api_gateway": chat,
        "function_url": load("chat_stream/function-url-buffered"),
    }

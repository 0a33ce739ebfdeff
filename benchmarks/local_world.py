"""What the request-path benchmarks run against: local AWS (moto with the template's tables) and a
scripted SageMaker server, with this process's environment pointing the app at both; and each
path's sample event for one key. Imports are inside, so `python -m benchmarks` stays light."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tests.support.events import EXAMPLE_KEY, load_event  # the events' key, and the events

__all__ = ["EXAMPLE_KEY", "LocalWorld", "local_world", "path_events"]


@dataclass(frozen=True)
class LocalWorld:
    aws_url: str
    sagemaker_url: str
    admin: Any  # sparkai.accounts.service.AccountAdmin on the local tables


@contextmanager
def local_world() -> Iterator[LocalWorld]:
    from sparkai.catalog import MODELS
    from sparkai_local.aws_server import local_admin, provisioned_server
    from sparkai_local.endpoint import table_environment
    from sparkai_local.sagemaker import ScriptedBackend, create_app
    from tests.support.servers import serve

    with (
        provisioned_server() as server,
        serve(create_app(ScriptedBackend(endpoints=MODELS))) as sagemaker_url,
    ):
        os.environ.update(
            AWS_ENDPOINT_URL_DYNAMODB=server.url,
            AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=sagemaker_url,
            **table_environment(),
        )
        yield LocalWorld(server.url, sagemaker_url, local_admin(server.url))


def path_events(record: Any) -> dict[str, dict[str, Any]]:
    """The authorizer's, API Gateway chat's (authorizer context of the key `record`) and the
    Function URL's sample events from events/, for the key EXAMPLE_KEY."""
    chat = load_event("chat/post-chat")
    chat["requestContext"]["authorizer"].update(
        account_id=record.account_id, key_id=record.key_id, key_hash=record.key_hash
    )
    return {
        "authorizer": load_event("authorizer/valid-key"),
        "api_gateway": chat,
        "function_url": load_event("chat_stream/function-url-buffered"),
    }

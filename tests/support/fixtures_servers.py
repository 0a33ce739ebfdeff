"""Fixtures that run real servers in this process on free ports: the local SageMaker Runtime (with
a scripted backend) and a real boto3 `sagemaker-runtime` client pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.config import Config

from sparkai.catalog import MODELS
from sparkai_local.sagemaker import ScriptedBackend, create_app
from tests.support.servers import serve

REGION = "us-east-1"


@dataclass(frozen=True)
class SageMakerServer:
    url: str
    backend: ScriptedBackend


def sagemaker_runtime_client(url: str) -> Any:
    """A real client, configured like production's: no botocore retries, bounded waits."""
    return boto3.client(
        "sagemaker-runtime",
        endpoint_url=url,
        region_name=REGION,
        config=Config(
            connect_timeout=5,
            read_timeout=30,
            retries={"mode": "standard", "total_max_attempts": 1},
        ),
    )


@pytest.fixture
def scripted_backend() -> ScriptedBackend:
    """A scripted model whose endpoints are the catalog's (named as the models, as by default)."""
    return ScriptedBackend(endpoints=MODELS)


@pytest.fixture
def sagemaker_server(scripted_backend: ScriptedBackend) -> Iterator[SageMakerServer]:
    with serve(create_app(scripted_backend)) as url:
        try:
            yield SageMakerServer(url, scripted_backend)
        finally:
            scripted_backend.release()  # nothing may stay blocked at a gate past the test


@pytest.fixture
def sagemaker_client(sagemaker_server: SageMakerServer) -> Any:
    return sagemaker_runtime_client(sagemaker_server.url)

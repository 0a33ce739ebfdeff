"""The dashboard's account API in process against the local AWS endpoint (moto's server:
DynamoDB, API Gateway usage plans, Cognito with real sign-ins), each route's AWS calls made as its
function's IAM role. Shared by the dashboard test modules; the fixtures are named dashboard_* so
they cannot clash with the many modules that define their own `api`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from sparkai.api.app import create_app
from sparkai_local.aws_server import provisioned_server
from sparkai_local.cognito import LocalUserPool, create_user_pool
from sparkai_local.dashboard_site import dashboard_env
from sparkai_local.endpoint import table_environment
from sparkai_local.function_roles import FunctionCredentials
from tests.support.fixtures_servers import SageMakerServer
from tests.support.function_credentials import signed_as_functions

World = tuple[str, LocalUserPool, dict[str, FunctionCredentials]]


@pytest.fixture(scope="module")
def dashboard_aws() -> Iterator[World]:
    """Local AWS with each function's IAM role enforced (and each function's access key)."""
    with provisioned_server() as server:
        yield server.url, create_user_pool(server.url), server.functions


@pytest.fixture
def dashboard_pool(
    dashboard_aws: World,
    monkeypatch: pytest.MonkeyPatch,
    sagemaker_server: SageMakerServer,
) -> LocalUserPool:
    """The process configured like the local stack's API (bearer keys: the Function URL path)."""
    url, user_pool, _ = dashboard_aws
    env = {
        "AWS_ENDPOINT_URL_DYNAMODB": url,
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": sagemaker_server.url,
        "SPARKAI_AUTH_MODE": "bearer",
        **table_environment(),
        **dashboard_env(user_pool, "http://127.0.0.1:3000"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return user_pool


@pytest.fixture
def dashboard_api(dashboard_pool: LocalUserPool, dashboard_aws: World) -> Iterator[TestClient]:
    """The app as the local stack runs it: each route's AWS calls as its function's role."""
    with signed_as_functions(dashboard_aws[2], create_app()) as app, TestClient(app) as client:
        yield client


def session(token: str) -> dict[str, str]:
    """An ID token as API Gateway's Cognito authorizer takes it: the header is the token."""
    return {"Authorization": token}

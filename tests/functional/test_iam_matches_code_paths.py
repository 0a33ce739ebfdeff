"""IAM that matches the code path, for every function in template.yaml and every route it serves.

In process (moto): each function's routes (from template.yaml's events) run in that function's
template environment, for every stream mode and with an Idempotency-Key claimed, completed and
abandoned, with a botocore hook recording the AWS operations its code really calls
(`before-parameter-build`: the same per-call event as `before-call`, but with the API parameters,
so table and endpoint names are known rather than the wire request); the template must grant
exactly those actions on exactly those resources: none missing (AccessDenied in AWS), none extra.

Against the local AWS process (the dashboard): its routes run signed as DashboardFunction against
an endpoint that enforces the role read from the SAM-transformed template, conditions included,
and records what it allowed; every grant must have been used. No route and no table is exempt;
test_every_function_is_paired keeps the list of functions complete.
"""

from __future__ import annotations

import fnmatch
import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import httpx
import pytest
from starlette.testclient import TestClient

from sparkai import aws
from sparkai.api.app import create_app
from sparkai.plans import Limits
from sparkai_local.aws_server import provisioned_server
from sparkai_local.cognito import LocalUserPool, create_user_pool, sign_up_and_sign_in
from sparkai_local.dashboard_site import dashboard_env
from sparkai_local.endpoint import client as local_client
from sparkai_local.endpoint import table_environment
from sparkai_local.template import load_template
from tests.conftest import KeyFactory
from tests.support.adapter_relay import send
from tests.support.events import EXAMPLE_KEY, load_event
from tests.support.fixtures_servers import SageMakerServer
from tests.support.function_credentials import signed_as_functions
from tests.support.lambda_harness import deployed, function_environment, function_spec, table_refs
from tests.support.servers import serve

CHAT_TABLES = ("ApiKeysTable", "AccountsTable", "RateLimitsTable")
ENDPOINT_PARAMETERS = ("Spark1EndpointName", "SparkTurboEndpointName", "SparkProEndpointName")
Grant = tuple[str, str]  # (IAM action, resource: a table's logical id or "endpoint:<parameter>")
_TRANSACTIONS = {
    "TransactWriteItems": {
        "Put": "PutItem",
        "Update": "UpdateItem",
        "Delete": "DeleteItem",
        "ConditionCheck": "ConditionCheckItem",
    },
    "TransactGetItems": {"Get": "GetItem"},
}


class Recorder:
    """Every AWS operation any boto3 client in this process makes, as (action, resource)."""

    def __init__(self) -> None:
        self.calls: set[Grant] = set()
        tables = table_refs()
        self._tables = {name: logical for logical, name in tables.items()}
        parameters = load_template()["Parameters"]
        self._endpoints = {parameters[p]["Default"]: p for p in ENDPOINT_PARAMETERS}

    def _table(self, name: str) -> str:
        return self._tables.get(name, "table:" + name)

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        action = f"{model.service_model.signing_name}:{model.name}"
        if model.name in _TRANSACTIONS:
            # IAM authorizes a transaction item by item, as the single-item action on its table.
            for item in params.get("TransactItems", []):
                ((kind, body),) = item.items()
                self.calls.add(
                    (f"dynamodb:{_TRANSACTIONS[model.name][kind]}", self._table(body["TableName"]))
                )
            return
        if "TableName" in params:
            resource = self._table(params["TableName"])
        elif "EndpointName" in params:
            resource = "endpoint:" + self._endpoints.get(params["EndpointName"], "?")
        else:
            resource = "*"
        self.calls.add((action, resource))


@pytest.fixture
def recorder(moto: None) -> Iterator[Recorder]:
    # The app's clients come from boto3's default session (sparkai.aws), created after this.
    boto3.setup_default_session()
    recorder = Recorder()
    assert boto3.DEFAULT_SESSION is not None
    boto3.DEFAULT_SESSION.events.register("before-parameter-build", recorder)
    yield recorder
    boto3.DEFAULT_SESSION.events.unregister("before-parameter-build", recorder)


def _resources(resource: Any) -> list[str]:
    if isinstance(resource, list):
        return [r for item in resource for r in _resources(item)]
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        return [resource["Fn::GetAtt"][0]]
    text = json.dumps(resource)
    return [f"endpoint:{p}" for p in ENDPOINT_PARAMETERS if f"endpoint/${{{p}}}" in text] or [text]


def granted(function: str) -> set[Grant]:
    """What template.yaml's inline policies let `function` do, on the chat path's resources."""
    props = load_template()["Resources"][function]["Properties"]
    grants: set[Grant] = set()
    for policy in props.get("Policies", []):
        for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
            if statement["Effect"] != "Allow":
                continue
            actions = statement["Action"]
            for action in actions if isinstance(actions, list) else [actions]:
                grants |= {(action, r) for r in _resources(statement["Resource"])}
    return grants


def in_scope(calls: set[Grant]) -> set[Grant]:
    """Every call counts: no table or service is another test's to pair."""
    return set(calls)


def api_routes(function: str) -> set[tuple[str, str]]:
    events = load_template()["Resources"][function]["Properties"].get("Events", {})
    return {
        (e["Properties"]["Method"].upper(), e["Properties"]["Path"])
        for e in events.values()
        if e["Type"] == "Api"
    }


CHAT_ROUTES = {("POST", "/v1/chat"), ("POST", "/v1/chat/completions")}
# Not the Function URL's in AWS: the dashboard is off there (404, DashboardFunction serves it,
# paired below) and /healthz calls nothing.
NOT_API_KEY_ROUTES = ("/v1/dashboard", "/healthz")


def app_routes() -> set[tuple[str, str]]:
    """Every API-key route the app serves (its OpenAPI paths): what a Function URL exposes."""
    paths = create_app().openapi()["paths"]
    return {
        (method.upper(), path)
        for path, operations in paths.items()
        for method in operations
        if path.startswith("/v1/") and not path.startswith(NOT_API_KEY_ROUTES)
    }


BODY = {"model": "spark-1", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 16}


def _exercise_over_http(call: Callable[[str, str, bytes], httpx.Response], routes: set) -> None:
    """Every chat route in both stream modes, and every GET route, expecting success."""
    for method, path in sorted(routes):
        if (method, path) in CHAT_ROUTES:
            for stream in (False, True):
                response = call(method, path, json.dumps({**BODY, "stream": stream}).encode())
                assert response.status_code == 200, (path, stream, response.text)
        elif method == "GET":
            path = path.replace("{model_id}", "spark-1")
            assert call(method, path, b"").status_code == 200, path


def test_the_gateway_streaming_function_may_do_exactly_what_its_routes_call(
    recorder: Recorder, sagemaker_server: SageMakerServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", sagemaker_server.url)
    routes = api_routes("GatewayStreamFunction")
    assert routes == CHAT_ROUTES  # every chat route on the REST API streams through it
    template_event = load_event("chat_stream/apigw-buffered")

    with function_environment(function_spec("GatewayStreamFunction")), serve(create_app()) as url:

        def call(method: str, path: str, body: bytes) -> httpx.Response:
            event = {**template_event, "httpMethod": method, "path": path, "resource": path}
            event["body"] = body.decode()
            return send(url, event)

        _exercise_over_http(call, routes)
        # Idempotency-Key: a request claimed and completed, and one the limiter refuses (its
        # authorizer context: 1 request/min, used up above) whose claim is abandoned.
        for name, rpm, status in (("pairing-done", "90", 200), ("pairing-refused", "1", 429)):
            event = {**template_event, "body": json.dumps(BODY)}
            event["headers"] = {**template_event["headers"], "Idempotency-Key": name}
            if "multiValueHeaders" in template_event:
                multi = template_event["multiValueHeaders"]
                event["multiValueHeaders"] = {**multi, "Idempotency-Key": [name]}
            context = template_event["requestContext"]
            event["requestContext"] = {
                **context,
                "authorizer": {**context["authorizer"], "rpm": rpm},
            }
            assert send(url, event).status_code == status, name

    needed = in_scope(recorder.calls)
    assert ("sagemaker:InvokeEndpointWithResponseStream", "endpoint:Spark1EndpointName") in needed
    assert ("sagemaker:InvokeEndpoint", "endpoint:Spark1EndpointName") in needed
    # One model exercised stands for the three: the grant must cover each endpoint equally.
    expected = {
        (action, "endpoint:" + p) if resource.startswith("endpoint:") else (action, resource)
        for action, resource in needed
        for p in ENDPOINT_PARAMETERS
    }
    assert granted("GatewayStreamFunction") == expected


def test_the_function_url_function_may_do_exactly_what_its_routes_call(
    recorder: Recorder,
    make_key: KeyFactory,
    sagemaker_server: SageMakerServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", sagemaker_server.url)
    make_key(secret=EXAMPLE_KEY)
    slow = make_key("enterprise", limits=Limits(1, 100_000)).secret  # 1 request/min
    recorder.calls.clear()  # the key factory's own writes are not the function's
    # A Function URL serves every route of the app: chat (both modes), models, usage.
    routes = app_routes()
    assert routes >= CHAT_ROUTES
    with function_environment(function_spec("ChatStreamFunction")), serve(create_app()) as url:

        def call(method: str, path: str, body: bytes) -> httpx.Response:
            headers = {"authorization": f"Bearer {EXAMPLE_KEY}", "content-type": "application/json"}
            return httpx.request(method, url + path, headers=headers, content=body or None)

        _exercise_over_http(call, routes)
        # Idempotency-Key: claimed and completed, then refused (1 request/min) and abandoned.
        for name, status in (("pairing-done", 200), ("pairing-refused", 429)):
            answer = httpx.post(
                url + "/v1/chat",
                headers={"authorization": f"Bearer {slow}", "idempotency-key": name},
                json=BODY,
            )
            assert answer.status_code == status, (name, answer.text)

    needed = in_scope(recorder.calls)
    assert ("dynamodb:GetItem", "ApiKeysTable") in needed  # the bearer key check
    expected = {
        (action, "endpoint:" + p) if resource.startswith("endpoint:") else (action, resource)
        for action, resource in needed
        for p in ENDPOINT_PARAMETERS
    }
    assert granted("ChatStreamFunction") == expected


def test_the_mangum_function_may_do_exactly_what_its_routes_call(recorder: Recorder) -> None:
    routes = api_routes("ChatFunction")
    assert not routes & CHAT_ROUTES  # chat moved to the streaming integration
    assert ("GET", "/v1/models") in routes
    base = load_event("chat/get-models")
    with deployed("ChatFunction") as handler:
        for method, path in sorted(routes):  # every one of its template routes
            event = load_event("chat/get-model") if "{" in path else {**base, "path": path}
            response = handler({**event, "resource": path, "httpMethod": method})
            assert response["statusCode"] == 200, (path, response["body"])
    assert granted("ChatFunction") == in_scope(recorder.calls)


def test_the_recorder_sees_what_a_route_calls(
    recorder: Recorder, sagemaker_server: SageMakerServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The check above is only as good as the hook: a denied-in-AWS call must show up here.
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", sagemaker_server.url)
    with function_environment(function_spec("GatewayStreamFunction")), serve(create_app()) as url:
        event = load_event("chat_stream/apigw-stream")
        assert send(url, event).status_code == 200
    assert {
        ("sagemaker:InvokeEndpointWithResponseStream", "endpoint:Spark1EndpointName"),
        ("dynamodb:UpdateItem", "RateLimitsTable"),
    } <= recorder.calls


# -- against the local AWS process, which enforces each function's role ----------------------------
#
# The dashboard's routes run in process, signed as DashboardFunction, against the local AWS
# endpoint that refuses whatever the role (read from the SAM-transformed template) does not allow:
# a missing grant fails the route. The endpoint records what it allowed, so a grant no route used
# fails here too: every permission is paired with a code path, conditions included (they are
# evaluated there, sparkai_local.iam_enforcer).


def _granted_permissions(url: str, user: str) -> set[tuple[str, str]]:
    """(action, resource pattern) of every Allow statement of the user's policies, resolved."""
    iam = local_client("iam", url)
    permissions = set()
    for name in iam.list_user_policies(UserName=user)["PolicyNames"]:
        document = iam.get_user_policy(UserName=user, PolicyName=name)["PolicyDocument"]
        document = json.loads(document) if isinstance(document, str) else document
        for statement in document["Statement"]:
            assert statement["Effect"] == "Allow"
            actions, resources = statement["Action"], statement["Resource"]
            for action in actions if isinstance(actions, list) else [actions]:
                for resource in resources if isinstance(resources, list) else [resources]:
                    permissions.add((action, resource))
    return permissions


def _unused(granted: set[tuple[str, str]], used: set[tuple[str, str]]) -> set[tuple[str, str]]:
    def covers(grant: tuple[str, str], need: tuple[str, str]) -> bool:
        return grant[0].lower() == need[0].lower() and fnmatch.fnmatchcase(need[1], grant[1])

    return {g for g in granted if not any(covers(g, u) for u in used)}


def test_the_dashboard_function_may_do_exactly_what_its_routes_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    routes = api_routes("DashboardFunction")
    exercised: set[tuple[str, str]] = set()
    with provisioned_server() as server:
        assert server.iam is not None
        pool = create_user_pool(server.url)
        for name, value in {
            "AWS_ENDPOINT_URL_DYNAMODB": server.url,
            **table_environment(),
            **dashboard_env(pool, "http://127.0.0.1:3000"),
            "SPARKAI_MAX_ACTIVE_KEYS": "2",  # so that the cap's refusal runs too (below)
        }.items():
            monkeypatch.setenv(name, value)
        allowed = server.iam.record()
        with (
            signed_as_functions(server.functions, create_app()) as app,
            TestClient(app) as api,
        ):

            def call(method: str, path: str, route: str, body: Any = None) -> Any:
                exercised.add((method, route))
                answer = api.request(method, path, headers=user, json=body)
                assert answer.status_code < 300, (path, answer.text)
                return answer.json()

            user = _dashboard_user(pool)
            # A new user's first calls, from two tabs at once: both create an account, one link
            # wins and the other request deletes the account it made (a code path too).
            both_put = threading.Barrier(2, timeout=30)
            seen = threading.local()

            def after_first_put(**_: Any) -> None:
                if not getattr(seen, "put", False):
                    seen.put = True
                    both_put.wait()

            dynamodb_events = aws.dynamodb().meta.events
            dynamodb_events.register("after-call.dynamodb.PutItem", after_first_put)
            with ThreadPoolExecutor(2) as tabs:
                accounts = list(
                    tabs.map(
                        lambda _: call("GET", "/v1/dashboard/account", "/v1/dashboard/account"),
                        range(2),
                    )
                )
            dynamodb_events.unregister("after-call.dynamodb.PutItem", after_first_put)
            account = accounts[0]
            assert accounts[1]["id"] == account["id"]
            # The first key of an account, from two tabs at once: the losing request's path
            # (deleting the API Gateway key it made) is a code path too.
            both_created = threading.Barrier(2, timeout=30)
            events = aws.apigateway().meta.events

            def after_create(**_: Any) -> None:
                both_created.wait()

            events.register("after-call.apigateway.CreateApiKey", after_create)
            with ThreadPoolExecutor(2) as tabs:
                keys = list(
                    tabs.map(
                        lambda _: call("POST", "/v1/dashboard/keys", "/v1/dashboard/keys", {}),
                        range(2),
                    )
                )
            events.unregister("after-call.apigateway.CreateApiKey", after_create)
            call("GET", "/v1/dashboard/keys", "/v1/dashboard/keys")
            # At the cap, a third key is refused: the key it wrote is deleted (a code path too).
            refused = api.request("POST", "/v1/dashboard/keys", headers=user, json={})
            assert refused.status_code == 409, refused.text
            first, second = (k["key"]["id"] for k in keys)
            rotate, revoke = (
                "/v1/dashboard/keys/{key_id}/rotate",
                "/v1/dashboard/keys/{key_id}/revoke",
            )
            call("POST", f"/v1/dashboard/keys/{first}/rotate", rotate, {"grace_hours": 0})
            call("POST", f"/v1/dashboard/keys/{second}/revoke", revoke)
            call("GET", "/v1/dashboard/usage", "/v1/dashboard/usage")
        assert exercised == routes  # every route of the function, none left out
        assert account["plan"] == "starter"
        used = allowed.get("DashboardFunction", set())
        granted = _granted_permissions(server.url, "DashboardFunction")
        # A new account's first key goes to the Starter plan; the Pro and Enterprise plans' keys
        # are the same code path for accounts an operator moved before their first key.
        plans = {g for g in granted if "/usageplans/" in g[1] and g[1].endswith("/keys")}
        assert len(plans) == 3 and len(_unused(plans, used)) == 2
        unused = _unused(granted - plans, used)
        assert not unused, sorted(unused)


def _dashboard_user(pool: LocalUserPool) -> dict[str, str]:
    email = f"pairing-{time.monotonic_ns()}@example.com"
    tokens = sign_up_and_sign_in(pool, email, "correct-horse-42")
    return {"Authorization": tokens["IdToken"]}  # the raw ID token, as the dashboard sends it


def test_the_authorizer_function_may_do_exactly_what_it_calls(
    recorder: Recorder, make_key: KeyFactory
) -> None:
    make_key(secret=EXAMPLE_KEY)
    recorder.calls.clear()
    with deployed("AuthorizerFunction") as handler:
        allowed = handler(load_event("authorizer/valid-key"))
    assert allowed["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert (
        granted("AuthorizerFunction")
        == in_scope(recorder.calls)
        == {("dynamodb:GetItem", "ApiKeysTable")}
    )


def test_the_pre_sign_up_trigger_may_do_nothing_and_calls_nothing(recorder: Recorder) -> None:
    # Both its paths (a sign-up goes on; a disposable address is refused) read only the event.
    with deployed("PreSignUpFunction") as handler:
        assert handler(load_event("presignup/sign-up"))["triggerSource"] == "PreSignUp_SignUp"
        with pytest.raises(Exception, match="disposable"):
            handler(load_event("presignup/disposable-domain"))
    assert granted("PreSignUpFunction") == in_scope(recorder.calls) == set()


PAIRED = {  # each function and the test above that pairs its grants with its code paths
    "AuthorizerFunction": test_the_authorizer_function_may_do_exactly_what_it_calls,
    "ChatFunction": test_the_mangum_function_may_do_exactly_what_its_routes_call,
    "GatewayStreamFunction": test_the_gateway_streaming_function_may_do_exactly_what_its_routes_call,
    "ChatStreamFunction": test_the_function_url_function_may_do_exactly_what_its_routes_call,
    "DashboardFunction": test_the_dashboard_function_may_do_exactly_what_its_routes_call,
    "PreSignUpFunction": test_the_pre_sign_up_trigger_may_do_nothing_and_calls_nothing,
}


def test_every_function_is_paired() -> None:
    functions = {
        name
        for name, resource in load_template()["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    assert functions == set(PAIRED)

"""Every alarm and dashboard widget reads a metric that exists. Ours (namespace SparkAIStream) are
captured from the EMF lines the real code writes on real request paths; AWS's own are checked
against the dimension sets AWS publishes them under and this stack's resources. An alarm on a
metric nobody emits never fires, and no test would otherwise notice."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from botocore.stub import Stubber

from sparkai import aws
from sparkai.api.app import create_app
from sparkai.catalog import MODELS
from sparkai.plans import Limits
from sparkai_local.sagemaker import Script
from sparkai_local.sagemaker.scripted import InvokeError
from tests.conftest import REGION, KeyFactory
from tests.support.events import EXAMPLE_KEY, load_event
from tests.support.fixtures_servers import SageMakerServer
from tests.support.lambda_harness import deployed, invoke
from tests.support.servers import serve

pytestmark = pytest.mark.template

Metric = tuple[str, str, frozenset[tuple[str, str]]]  # namespace, name, {dimension: value}
OURS = "SparkAIStream"

# AWS's metrics this stack may read, by namespace and name: the dimension sets AWS publishes them
# under. Sources: the services' CloudWatch pages (Lambda monitoring-metrics, DynamoDB
# metrics-dimensions, SageMaker monitoring-cloudwatch, API Gateway api-gateway-metrics-and-
# dimensions), cross-checked with aws-cdk-lib's generated canned metrics
# (aws-lambda/lib/lambda-canned-metrics.generated.d.ts and the dynamodb/sagemaker ones).
AWS_METRICS: dict[str, dict[str, list[set[str]]]] = {
    "AWS/Lambda": {
        name: [{"FunctionName"}, {"FunctionName", "Resource"}]
        for name in ("Errors", "Throttles", "Duration", "Invocations")
    }
    | {"ConcurrentExecutions": [set(), {"FunctionName"}]},
    "AWS/ApiGateway": {
        name: [{"ApiName"}, {"ApiName", "Stage"}]
        for name in ("Count", "4XXError", "5XXError", "Latency", "IntegrationLatency")
    },
    "AWS/DynamoDB": {
        "SystemErrors": [{"TableName", "Operation"}],
        "ThrottledRequests": [{"TableName", "Operation"}],
        "ReadThrottleEvents": [{"TableName"}],
        "WriteThrottleEvents": [{"TableName"}],
    },
    "AWS/SageMaker": {
        name: [{"EndpointName", "VariantName"}]
        for name in ("Invocations", "Invocation4XXErrors", "Invocation5XXErrors", "ModelLatency")
    },
}


# -- what the code emits ------------------------------------------------------------------------


def emitted(text: str) -> set[Metric]:
    """Every (namespace, metric, dimensions) the EMF lines in `text` publish."""
    found: set[Metric] = set()
    for line in text.splitlines():
        if '"_aws"' not in line:
            continue
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for dimensions in directive["Dimensions"]:
                values = frozenset((d, str(document[d])) for d in dimensions)
                for metric in directive["Metrics"]:
                    found.add((directive["Namespace"], metric["Name"], values))
    return found


def _chat(url: str, key: str, body: dict[str, Any]) -> httpx.Response:
    with httpx.stream(
        "POST", f"{url}/v1/chat", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30
    ) as response:
        response.read()
    return response


def _hello(model: str = "spark-1", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "Hello"}], **extra}


@pytest.fixture
def in_lambda(monkeypatch: pytest.MonkeyPatch) -> None:
    """Code writes its EMF lines only where CloudWatch reads stdout: in a Lambda function."""
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "sparkai-stream-test")


@pytest.fixture
def api_url(
    moto: None,
    in_lambda: None,
    sagemaker_server: SageMakerServer,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[str]:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", sagemaker_server.url)
    with serve(create_app()) as url:
        yield url


def _failing(operation: str) -> Any:
    """The process's DynamoDB client, with `operation` failing once (everything else real)."""
    real = boto3.client("dynamodb", region_name=REGION)
    broken = boto3.client("dynamodb", region_name=REGION)
    for name in ("get_item", "update_item", "transact_write_items", "put_item", "query"):
        if name != operation:
            setattr(broken, name, getattr(real, name))
    stubber = Stubber(broken)
    stubber.add_client_error(operation, "InternalServerError", http_status_code=500)
    aws.set_client("dynamodb", broken)
    return stubber


@pytest.fixture
def emitted_by_every_path(
    api_url: str,
    sagemaker_server: SageMakerServer,
    make_key: KeyFactory,
    capsys: pytest.CaptureFixture[str],
) -> set[Metric]:
    """Runs each request path once through the real app and the real authorizer handler."""
    pro = make_key("pro").secret
    backend = sagemaker_server.backend
    # Success, streamed (time to first token) and buffered, on every model of the catalog.
    for model in MODELS:
        assert _chat(api_url, pro, _hello(model, stream=True)).status_code == 200
        assert _chat(api_url, pro, _hello(model)).status_code == 200
    # A client's mistake on a known model (4xx), and a 429 from the per-minute limit.
    tiny = make_key("enterprise", limits=Limits(1, 2_000)).secret
    assert _chat(api_url, tiny, _hello(max_tokens=3_000)).status_code == 400
    assert _chat(api_url, tiny, _hello()).status_code == 200
    assert _chat(api_url, tiny, _hello()).status_code == 429
    # The model failing.
    failure = InvokeError("ModelError", original_status_code=500)
    backend.set_script("spark-1", Script(invoke_error=failure))
    assert _chat(api_url, pro, _hello()).json()["error"]["code"] == "model_error"
    backend.set_script("spark-1", Script())
    # The limiter's table unreachable.
    with _failing("update_item"):
        assert _chat(api_url, pro, _hello()).json()["error"]["code"] == "rate_limiter_unavailable"
    # A settle that fails after the answer was served (lost revenue).
    with _failing("transact_write_items"):
        assert _chat(api_url, pro, _hello()).status_code == 200
    aws.reset_clients()
    # The authorizer: a bad key (a client's mistake), then the key store failing (ours).
    make_key(secret=EXAMPLE_KEY)
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        invoke("AuthorizerFunction", load_event("authorizer/unknown-key"))
    with (
        deployed("AuthorizerFunction") as call,  # the container's environment, then its client
        _failing("get_item"),
        pytest.raises(Exception) as raised,
    ):
        call(load_event("authorizer/valid-key"))
    assert type(raised.value).__name__ == "AuthorizerUnavailable"
    return emitted(capsys.readouterr().out)


# -- what the template reads --------------------------------------------------------------------


def _resolve(value: Any, parameters: dict[str, Any]) -> str:
    """A dimension value as a readable string: literals as they are, Ref X as '<X>' (a resource)
    or the parameter's default, Fn::Sub with its ${...} resolved the same way."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        name = value["Ref"]
        return str(parameters[name]["Default"]) if name in parameters else f"<{name}>"
    if "Fn::Sub" in value:
        return _substitute(value["Fn::Sub"], parameters)
    raise AssertionError(f"unexpected dimension value {value}")


def _substitute(text: str, parameters: dict[str, Any]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "AWS::StackName":
            return "<stack>"
        if name == "AWS::Region":
            return REGION
        return _resolve({"Ref": name}, parameters)

    return re.sub(r"\$\{([A-Za-z0-9:]+)\}", one, text)


def alarm_metrics(transformed: dict[str, Any]) -> Iterator[tuple[str, Metric]]:
    """(alarm, metric) for every metric an alarm reads, single-metric or metric math."""
    parameters = transformed.get("Parameters", {})
    for name, resource in transformed["Resources"].items():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        props = resource["Properties"]
        specs = (
            [query["MetricStat"]["Metric"] for query in props["Metrics"] if "MetricStat" in query]
            if "Metrics" in props
            else [props]
        )
        for spec in specs:
            dimensions = frozenset(
                (d["Name"], _resolve(d["Value"], parameters)) for d in spec.get("Dimensions", [])
            )
            yield name, (spec["Namespace"], spec["MetricName"], dimensions)


def _expand(rows: list[list[Any]]) -> Iterator[list[str]]:
    """A dashboard widget's metric rows with CloudWatch's shorthand ('.' = the previous row's
    item at that position, a leading '...' = the previous row up to the items that follow)."""
    previous: list[str] = []
    for raw in rows:
        row = [item for item in raw if not isinstance(item, dict)]  # rendering options
        if not row:  # [{"expression": ...}]: math over the rows above, no metric of its own
            continue
        if row[0] == "...":
            row = previous[: len(previous) - (len(row) - 1)] + row[1:]
        row = [previous[i] if item == "." else item for i, item in enumerate(row)]
        previous = row
        yield row


def dashboard_metrics(transformed: dict[str, Any]) -> Iterator[tuple[str, Metric]]:
    parameters = transformed.get("Parameters", {})
    for name, resource in transformed["Resources"].items():
        if resource["Type"] != "AWS::CloudWatch::Dashboard":
            continue
        body = json.loads(
            _substitute(resource["Properties"]["DashboardBody"]["Fn::Sub"], parameters)
        )
        for widget in body["widgets"]:
            properties = widget.get("properties", {})
            for row in _expand(properties.get("metrics", [])):
                namespace, metric, *pairs = row
                dimensions = frozenset(zip(pairs[::2], pairs[1::2], strict=True))
                yield f"{name}: {properties.get('title')}", (namespace, metric, dimensions)
            for alarm in properties.get("annotations", {}).get("alarms", []):
                assert alarm.startswith("arn:"), alarm


def every_metric_read(transformed: dict[str, Any]) -> list[tuple[str, Metric]]:
    read = [*alarm_metrics(transformed), *dashboard_metrics(transformed)]
    assert read, "the template reads no metric at all"
    return read


# -- the pairing --------------------------------------------------------------------------------


def test_every_alarm_and_widget_on_our_namespace_reads_a_metric_the_code_emits(
    transformed: dict[str, Any], emitted_by_every_path: set[Metric]
) -> None:
    ours = [(who, metric) for who, metric in every_metric_read(transformed) if metric[0] == OURS]
    missing = [(who, metric) for who, metric in ours if metric not in emitted_by_every_path]
    assert not missing, "nothing emits:\n" + "\n".join(f"{w}: {m}" for w, m in missing)
    # and the alarms on failures read the roll-up the code writes for them, per service
    assert (OURS, "SettleFailures", frozenset({("service", "sparkai-stream")})) in {
        m for _, m in ours
    }


def test_no_failure_count_rises_on_a_client_mistake(
    emitted_by_every_path: set[Metric], capsys: pytest.CaptureFixture[str], make_key: KeyFactory
) -> None:
    # A bad key, a bad body and a 429 (all above) are 4xx: only the request line counts them.
    names = {name for _, name, _ in emitted_by_every_path}
    assert {"AuthorizerInternalErrors", "SettleFailures", "ModelErrors"} <= names
    for event in ("authorizer/unknown-key", "authorizer/missing-header"):
        with pytest.raises(Exception, match=r"^Unauthorized$"):
            invoke("AuthorizerFunction", load_event(event))
    assert '"_aws"' not in capsys.readouterr().out


def test_aws_metrics_are_read_under_the_dimensions_aws_publishes_them_with(
    transformed: dict[str, Any],
) -> None:
    resources = transformed["Resources"]
    functions = {f"<{n}>" for n, r in resources.items() if r["Type"] == "AWS::Lambda::Function"}
    tables = {f"<{n}>" for n, r in resources.items() if r["Type"] == "AWS::DynamoDB::Table"}
    parameters = transformed["Parameters"]
    endpoints = {str(p["Default"]) for n, p in parameters.items() if n.endswith("EndpointName")}
    (api,) = [r for r in resources.values() if r["Type"] == "AWS::ApiGateway::RestApi"]
    api_name = _resolve(api["Properties"]["Name"], parameters)
    for who, (namespace, metric, dimensions) in every_metric_read(transformed):
        if namespace == OURS:
            continue
        published = AWS_METRICS.get(namespace, {}).get(metric)
        assert published, f"{who}: {namespace} {metric} is not a metric this test knows"
        values = dict(dimensions)
        assert set(values) in published, f"{who}: {metric} is not published by {set(values)}"
        # ... and each dimension names something this stack has.
        if "FunctionName" in values:
            assert values["FunctionName"] in functions, who
        if "Resource" in values:  # an alias: <Function>:live
            function, _, alias = values["Resource"].partition(":")
            assert function in functions and alias == "live", who
        if "TableName" in values:
            assert values["TableName"] in tables, who
        if "ApiName" in values:
            assert values["ApiName"] == api_name, who
        if "Stage" in values:
            assert values["Stage"] == str(parameters["StageName"]["Default"]), who
        if "EndpointName" in values:
            assert values["EndpointName"] in endpoints, who


def test_the_authorizers_lambda_errors_page_no_one(transformed: dict[str, Any]) -> None:
    # Every bad key is a Lambda error of the authorizer (API Gateway needs the raised
    # "Unauthorized" for its 401): an alarm on it pages on client mistakes.
    for who, (namespace, metric, dimensions) in alarm_metrics(transformed):
        if namespace == "AWS/Lambda" and metric == "Errors":
            assert ("FunctionName", "<AuthorizerFunction>") not in dimensions, who

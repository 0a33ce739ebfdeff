"""The local AWS endpoint: moto's server (DynamoDB, API Gateway, ...) with the template's tables,
refusing what each caller's IAM policy does not allow (sparkai_local.iam_enforcer; each function
signs with its own role's key: sparkai_local.function_roles).

moto evaluates a conditional write in several steps without a lock, so two threads can both pass
the same condition. Real DynamoDB makes each conditional write atomic; the rate limiter relies on
that, so this server handles one request at a time.
"""

from __future__ import annotations

import argparse
import gc
import io
import signal
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Self

from botocore.exceptions import ClientError
from moto.core.request import Request
from moto.dynamodb.responses import DynamoHandler
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Response

from sparkai.accounts.edge import UsagePlanEdge
from sparkai.accounts.service import AccountAdmin
from sparkai.accounts.store import AccountStore
from sparkai.keys.epochs import KeyEpochs
from sparkai.keys.store import KeyStore
from sparkai.plans import ENTERPRISE_EDGE_REQUESTS_PER_MINUTE, PLANS, edge_throttle
from sparkai_local import moto_numbers, moto_request_tokens, moto_transactions
from sparkai_local.endpoint import LOCAL_TABLES, LOCAL_USAGE_PLAN_PREFIX, client
from sparkai_local.function_roles import FunctionCredentials, provision_function_roles
from sparkai_local.iam_enforcer import IamEnforcer, install_operator
from sparkai_local.keep_alive import KeepAliveRequestHandler
from sparkai_local.template import create_tables

moto_numbers.install()
moto_transactions.install()  # settles stay fast as the usage ledger grows
moto_request_tokens.install()  # a reused ClientRequestToken with other items fails, as in AWS

_DYNAMODB_TARGET = "DynamoDB_20120810."  # X-Amz-Target of every DynamoDB API call


class SerializedApp:
    """WSGI wrapper that runs one request at a time (response body included)."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        with self._lock:
            return list(self._app(environ, start_response))


class _ServerRequest(Request):
    from_wsgi_server = True  # as moto's own server marks its requests


class _Dispatcher(DomainDispatcherApplication):
    """moto's dispatcher, remembering which backend serves a host. moto works it out on every
    request by listing its own package directory (a stat per service, ~150) and trying URL
    patterns: a fifth of the local AWS process's time per DynamoDB call, for the same answer.

    A DynamoDB call (the app's hot path: three per chat request) goes straight to moto's
    DynamoDB handler, as moto's Flask view would call it, without the Flask app around it (an
    application and request context, URL routing, CORS headers no SDK reads): about a tenth of the
    process's CPU per call. Every other service, and anything a browser calls, goes through
    moto's Flask app as before."""

    def __init__(self, create_app: Any, iam: IamEnforcer | None = None) -> None:
        super().__init__(create_app)
        self._backends: dict[str | None, Any] = {}
        self._iam = iam

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self._iam is not None and "HTTP_AUTHORIZATION" in environ:
            length = environ.get("CONTENT_LENGTH")
            stream = environ["wsgi.input"]
            body = stream.read(int(length)) if length else stream.read()  # chunked: to its end
            environ["wsgi.input"] = io.BytesIO(body)  # read again below, as if untouched
            refusal = self._iam.refusal(environ, body)
            if refusal is not None:
                return refusal(environ, start_response)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not (target.startswith(_DYNAMODB_TARGET) and environ.get("REQUEST_METHOD") == "POST"):
            return super().__call__(environ, start_response)
        # Not put in the environ (werkzeug's default): the request and its environ would refer to
        # each other, a cycle per call that only the cyclic collector frees. Nothing reads it there.
        request = _ServerRequest(environ, populate_request=False)
        try:  # as moto.core.utils.convert_to_flask_response calls the handler
            result = DynamoHandler.dispatch(request, request.raw_url, dict(request.headers))
        except ClientError as exc:
            result = 400, {}, exc.response["Error"]["Message"]
        status, headers, content = result if len(result) == 3 else (200, {}, result)
        return Response(response=content, status=status, headers=headers)(environ, start_response)

    def get_backend_for_host(self, host: str | None) -> Any:
        if host not in self._backends:
            self._backends[host] = super().get_backend_for_host(host)
        return self._backends[host]


class LocalAwsServer:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        fd: int | None = None,
        *,
        enforce_iam: bool = True,
    ) -> None:
        """On host:port, or on the listening socket `fd` (bound by the local stack). With
        `enforce_iam`, every signed request is checked against its signer's IAM policies (the
        operator's key, "local", may do everything; functions get their roles' keys)."""
        self.iam: IamEnforcer | None = None
        if enforce_iam:
            install_operator()
            self.iam = IamEnforcer()
        app = SerializedApp(_Dispatcher(create_backend_app, self.iam))
        self._server: BaseWSGIServer = make_server(
            host, port, app, threaded=True, request_handler=KeepAliveRequestHandler, fd=fd
        )
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.socket.getsockname()[:2]  # an IPv4 (host, port) pair
        return f"http://{host}:{port}"

    def start(self) -> Self:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="local-aws", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)
        # moto's backends are process-wide: a server started in a test process would otherwise
        # leave its tables for the next one there ("Table already exists").
        from moto.moto_api._internal.models import moto_api_backend

        moto_api_backend.reset()


def provision(
    url: str,
    tables: dict[str, str] = LOCAL_TABLES,
    usage_plan_prefix: str = LOCAL_USAGE_PLAN_PREFIX,
) -> None:
    """The template's tables, and a REST API with the three usage plans (so key lifecycle
    operations that attach API Gateway keys work locally as they do in AWS)."""
    create_tables(client("dynamodb", url), tables)
    apigateway = client("apigateway", url)
    api_id = apigateway.create_rest_api(name=f"{usage_plan_prefix}-api")["id"]
    root_id = apigateway.get_resources(restApiId=api_id)["items"][0]["id"]
    apigateway.put_method(
        restApiId=api_id, resourceId=root_id, httpMethod="ANY", authorizationType="NONE"
    )
    apigateway.put_integration(restApiId=api_id, resourceId=root_id, httpMethod="ANY", type="MOCK")
    apigateway.create_deployment(restApiId=api_id, stageName="local")
    for plan in PLANS.values():
        rpm = (
            plan.limits.requests_per_minute if plan.limits else ENTERPRISE_EDGE_REQUESTS_PER_MINUTE
        )
        throttle = edge_throttle(rpm)
        apigateway.create_usage_plan(
            name=f"{usage_plan_prefix}-{plan.id}",
            apiStages=[{"apiId": api_id, "stage": "local"}],
            throttle={"rateLimit": throttle.rate_limit, "burstLimit": throttle.burst_limit},
        )


class ProvisionedServer(LocalAwsServer):
    """A started, provisioned local AWS endpoint and its functions' access keys."""

    functions: dict[str, FunctionCredentials]


@contextmanager
def provisioned_server(*, enforce_iam: bool = True) -> Iterator[ProvisionedServer]:
    """A local AWS endpoint in this process with the template's tables and usage plans, and an
    IAM user per function (what tests and benchmarks run against), stopped on the way out."""
    server = ProvisionedServer(enforce_iam=enforce_iam).start()
    try:
        provision(server.url)
        server.functions = provision_function_roles(server.url) if enforce_iam else {}
        yield server
    finally:
        server.stop()


def local_admin(url: str, *, with_usage_plans: bool = False) -> AccountAdmin:
    """Account and key lifecycle against the local AWS endpoint (the provisioned tables)."""
    dynamodb = client("dynamodb", url)
    return AccountAdmin(
        accounts=AccountStore(LOCAL_TABLES["AccountsTable"], lambda: dynamodb),
        keys=KeyStore(LOCAL_TABLES["ApiKeysTable"], lambda: dynamodb),
        epochs=KeyEpochs(LOCAL_TABLES["RateLimitsTable"], lambda: dynamodb),
        edge=UsagePlanEdge(client("apigateway", url), LOCAL_USAGE_PLAN_PREFIX)
        if with_usage_plans
        else None,
    )


def keep_survivors_out_of_full_collections() -> None:
    """What this process keeps (moto's and botocore's loaded models, then the tables' items: about
    80 objects per chat request settled) is moved out of the cyclic collector's reach after each
    full collection. A full collection walks every tracked object, and it runs inside whichever
    call allocated last: with the ledger growing by a settle marker per request, the local AWS
    process's time per transaction rose with it (1.1 to 1.45 ms over 12,000 settles in-process),
    and flat at about 1.0 ms with this. What is moved out is still freed by reference counting
    (the tables' items hold no cycles); only a cycle alive in the call that a full collection
    interrupted would never be collected, at most one call's worth per full collection."""
    gc.freeze()

    def after(phase: str, info: dict[str, int]) -> None:
        if phase == "stop" and info["generation"] == 2:
            gc.freeze()

    gc.callbacks.append(after)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Local AWS endpoint (moto) with SparkAI's tables")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--fd", type=int, help="serve on this listening socket (host/port unused)")
    parser.add_argument(
        "--no-provision", action="store_true", help="start empty (the caller provisions)"
    )
    parser.add_argument(
        "--no-iam", action="store_true", help="answer every request, signed or not (benchmarks)"
    )
    args = parser.parse_args(argv)
    server = LocalAwsServer(args.host, args.port, args.fd, enforce_iam=not args.no_iam)
    keep_survivors_out_of_full_collections()
    server.start()
    if not args.no_provision:
        provision(server.url)
    print(f"local AWS (DynamoDB, API Gateway) on {server.url}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

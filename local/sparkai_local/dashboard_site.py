"""What `make run` serves on its one port: the API (the same FastAPI app as in Lambda), and the
dashboard's static files at /dashboard/ with its config injected at serve time and the security
headers CloudFront adds in AWS (template.yaml's DashboardHeadersPolicy).

Sign-up is the one local difference: the served config points the browser's Cognito `SignUp`
call at /dashboard/local-sign-up, which first refuses a disposable-mail address as the pool's pre
sign-up trigger does in AWS (same policy, same error), then forwards the call unchanged to moto's
Cognito (which runs no triggers) and confirms the user (AWS e-mails a code instead). Every other Cognito call goes straight to the local AWS
endpoint, in Cognito's own JSON protocol, so the same browser code runs against AWS.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sparkai.api.app import app as api_app
from sparkai.config import SignUpSettings, load_settings
from sparkai.signup import EmailDomainPolicy, SignUpRefused, domains
from sparkai_local import function_credentials
from sparkai_local.cognito import TARGET_PREFIX, LocalUserPool, confirm
from sparkai_local.endpoint import LOCAL_USAGE_PLAN_PREFIX, REGION

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = ROOT / "dashboard"
CONFIG_ENV = "SPARKAI_LOCAL_DASHBOARD_CONFIG"  # the served config.json, as JSON
SIGN_UP_PATH = "/dashboard/local-sign-up"


def content_security_policy(cognito_origin: str) -> str:
    """No inline script or style anywhere; network only to this origin and Cognito."""
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src 'self' {cognito_origin}",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
            "object-src 'none'",
        ]
    )


def security_headers(cognito_origin: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-security-policy", content_security_policy(cognito_origin).encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"cache-control", b"no-cache"),
    ]


def spa_config(pool: LocalUserPool, api_url: str) -> dict[str, Any]:
    """The dashboard's config.json (in AWS, written at deploy time from the stack's outputs)."""
    return {
        "region": REGION,
        "userPoolId": pool.pool_id,
        "userPoolClientId": pool.client_id,
        "cognitoEndpoint": pool.aws_url + "/",
        "signUpEndpoint": api_url + SIGN_UP_PATH,
        "dashboardApiUrl": "",  # same origin (in AWS: CloudFront routes /v1/dashboard/*)
        "apiBaseUrl": api_url,
        "streamUrl": api_url,
    }


def dashboard_env(pool: LocalUserPool, api_url: str) -> dict[str, str]:
    """What the API process needs to serve the dashboard and its account API locally."""
    return {
        "SPARKAI_DASHBOARD_AUTH": "verify",
        "SPARKAI_USER_POOL_ID": pool.pool_id,
        "SPARKAI_USER_POOL_CLIENT_ID": pool.client_id,
        "SPARKAI_COGNITO_JWKS_URL": pool.jwks_url,
        # Keys created from the dashboard get usage-plan keys, as the admin CLI's do.
        "SPARKAI_USAGE_PLAN_PREFIX": LOCAL_USAGE_PLAN_PREFIX,
        "AWS_ENDPOINT_URL_API_GATEWAY": pool.aws_url,
        CONFIG_ENV: json.dumps(spa_config(pool, api_url)),
    }


def _forward_sign_up(aws_url: str, body: bytes, target: str) -> tuple[int, bytes]:
    request = urllib.request.Request(  # noqa: S310 - the local AWS endpoint
        aws_url + "/",
        data=body,
        method="POST",
        headers={"content-type": "application/x-amz-json-1.1", "x-amz-target": target},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def sign_up_policy() -> EmailDomainPolicy:
    """The pre sign-up trigger's policy (functions/presignup): the same list and settings."""
    from disposable_email_domains import blocklist

    settings = load_settings(SignUpSettings)
    return EmailDomainPolicy(
        blocked=frozenset(blocklist) | domains(settings.blocked_email_domains),
        allowed=domains(settings.allowed_email_domains),
    )


def create_dashboard_app(config: dict[str, Any]) -> ASGIApp:
    pool = LocalUserPool(
        config["cognitoEndpoint"].rstrip("/"), config["userPoolId"], config["userPoolClientId"]
    )
    policy = sign_up_policy()

    async def served_config(request: Request) -> Response:
        return JSONResponse(config)

    async def sign_up(request: Request) -> Response:
        target = request.headers.get("x-amz-target", "")
        if target != TARGET_PREFIX + "SignUp":
            return JSONResponse(
                {"__type": "InvalidParameterException", "message": "only SignUp is served here"},
                status_code=400,
            )
        try:
            email = next(
                (
                    str(a.get("Value", ""))
                    for a in json.loads(await request.body()).get("UserAttributes") or []
                    if isinstance(a, dict) and a.get("Name") == "email"
                ),
                "",
            )
            policy.check(email)
        except SignUpRefused as exc:  # what Cognito answers when the trigger raises
            return JSONResponse(
                {
                    "__type": "UserLambdaValidationException",
                    "message": f"PreSignUp failed with error {exc}.",
                },
                status_code=400,
                media_type="application/x-amz-json-1.1",
            )
        except (ValueError, AttributeError):
            pass  # a malformed body: moto's Cognito answers it as AWS would
        status, body = await run_in_threadpool(
            _forward_sign_up, pool.aws_url, await request.body(), target
        )
        if status != 200:
            return Response(body, status_code=status, media_type="application/x-amz-json-1.1")
        username = json.loads(await request.body())["Username"]
        await run_in_threadpool(confirm, pool, username)
        answer = {**json.loads(body), "UserConfirmed": True}
        answer.pop("CodeDeliveryDetails", None)
        return JSONResponse(answer, media_type="application/x-amz-json-1.1")

    async def to_index(request: Request) -> Response:
        return RedirectResponse("/dashboard/", status_code=308)

    app = Starlette(
        routes=[
            Route("/dashboard", to_index),
            Route("/dashboard/config.json", served_config),
            Route(SIGN_UP_PATH, sign_up, methods=["POST"]),
            Mount("/dashboard", StaticFiles(directory=DASHBOARD_DIR, html=True)),
        ]
    )
    headers = security_headers(pool.aws_url)

    async def with_headers(scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *headers]
            await send(message)

        await app(scope, receive, send_with_headers)

    return with_headers


class Site:
    """/dashboard and /dashboard/... to the dashboard; everything else (lifespan too) to the API."""

    def __init__(self, api: ASGIApp, dashboard: ASGIApp | None) -> None:
        self.api = api
        self.dashboard = dashboard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            self.dashboard is not None
            and scope["type"] == "http"
            and (path == "/dashboard" or path.startswith("/dashboard/"))
        ):
            await self.dashboard(scope, receive, send)
        else:
            await self.api(scope, receive, send)


def create_site(environ: dict[str, str] | None = None) -> Site:
    env = os.environ if environ is None else environ
    raw = env.get(CONFIG_ENV)
    api: ASGIApp = api_app
    keys = function_credentials.keys_from_env(env)
    if keys is not None:  # the local stack: each route's AWS calls as its function's role
        function_credentials.install(keys)
        api = function_credentials.SignAsRouteFunction(api_app)
    return Site(api, create_dashboard_app(json.loads(raw)) if raw else None)


app = create_site()

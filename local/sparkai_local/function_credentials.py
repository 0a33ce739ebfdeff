"""Which function's credentials sign an AWS call, in a local process that serves the routes of
several functions.

In AWS, /v1/dashboard/* runs in DashboardFunction and every other route of the app in the Function
URL's ChatStreamFunction, each with its own role. Locally one process serves both (`make run`'s
API process, the functional tests' in-process app); each request here signs its AWS calls with
the access key of the function that serves its route in AWS (the template's events say which), so
the local AWS process checks each call against that function's policy. The app's code is
untouched: this is a credential provider on boto3's default session, reading the request's
function from a context variable that an ASGI wrapper sets (it follows the request into
Starlette's thread pool and into tasks the request starts).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

from botocore.credentials import CredentialProvider, Credentials, ReadOnlyCredentials
from starlette.types import ASGIApp, Receive, Scope, Send

from sparkai_local.template import load_template

ENV = "SPARKAI_LOCAL_FUNCTION_CREDENTIALS"  # {"Function": [key id, secret], ...} as JSON
FUNCTION_URL = "ChatStreamFunction"  # serves every route no other function claims locally
# Functions whose API routes the local process serves besides the Function URL's.
ROUTED_FUNCTIONS = ("DashboardFunction",)

_function: ContextVar[str] = ContextVar("sparkai_local_function", default=FUNCTION_URL)


def _route_pattern(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path)) + "$")


def function_routes() -> list[tuple[re.Pattern[str], str]]:
    """(path pattern, function) for the routed functions' API events in template.yaml."""
    resources = load_template()["Resources"]
    routes = []
    for function in ROUTED_FUNCTIONS:
        for event in resources[function]["Properties"].get("Events", {}).values():
            if event["Type"] == "Api":
                routes.append((_route_pattern(event["Properties"]["Path"]), function))
    return routes


def function_for(path: str, routes: list[tuple[re.Pattern[str], str]]) -> str:
    return next((fn for pattern, fn in routes if pattern.match(path)), FUNCTION_URL)


class SignAsRouteFunction:
    """ASGI wrapper: the request's AWS calls are signed as the function serving its route."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._routes = function_routes()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _function.set(function_for(scope.get("path", ""), self._routes))
        try:
            await self.app(scope, receive, send)
        finally:
            _function.reset(token)


class _RouteCredentials(Credentials):
    """Credentials whose key is the current request's function's, read at signing time."""

    def __init__(self, keys: Mapping[str, tuple[str, str]]) -> None:
        super().__init__(*keys[FUNCTION_URL])
        self._keys = dict(keys)

    def get_frozen_credentials(self) -> ReadOnlyCredentials:
        key_id, secret = self._keys[_function.get()]
        return ReadOnlyCredentials(key_id, secret, None)


class _Provider(CredentialProvider):
    METHOD = "sparkai-local-functions"
    CANONICAL_NAME = "SparkaiLocalFunctions"

    def __init__(self, credentials: _RouteCredentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> Credentials:
        return self._credentials


def keys_from_env(environ: Mapping[str, str] | None = None) -> dict[str, tuple[str, str]] | None:
    raw = (os.environ if environ is None else environ).get(ENV)
    if not raw:
        return None
    return {name: (pair[0], pair[1]) for name, pair in json.loads(raw).items()}


def install(keys: Mapping[str, tuple[str, str]]) -> None:
    """Sign every later client of boto3's default session with the route's function's key."""
    import boto3

    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    session: Any = boto3.DEFAULT_SESSION
    resolver = session._session.get_component("credential_provider")
    resolver.insert_before("env", _Provider(_RouteCredentials(keys)))

"""The functional tests' in-process app against the local AWS server, as the local stack runs it:
each route's AWS calls signed with the key of the function serving that route in AWS."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import boto3
from starlette.types import ASGIApp

from sparkai import wiring
from sparkai_local import function_credentials
from sparkai_local.function_roles import FunctionCredentials


@contextmanager
def signed_as_functions(
    functions: dict[str, FunctionCredentials], app: ASGIApp
) -> Iterator[ASGIApp]:
    """`app`, its AWS calls signed as its routes' functions; boto3's default session (and the
    process's clients) forgotten on the way out, so no later test signs with these keys."""
    boto3.DEFAULT_SESSION = None
    wiring.reset_clients()
    function_credentials.install(
        {name: (key.access_key_id, key.secret_access_key) for name, key in functions.items()}
    )
    try:
        yield function_credentials.SignAsRouteFunction(app)
    finally:
        boto3.DEFAULT_SESSION = None
        wiring.reset_clients()

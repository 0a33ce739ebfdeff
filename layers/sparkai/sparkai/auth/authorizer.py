"""The API Gateway REQUEST authorizer: header in, allow-all-routes policy (or 401) out.

Kept free of FastAPI and pydantic: its cold import is budgeted at 1.3x a bare `import boto3`.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
    APIGatewayAuthorizerResponse,
)

from sparkai.auth.authenticator import Authenticator
from sparkai.errors import AuthUnavailableError, InvalidApiKeyError
from sparkai.observability import count_failure, logger
from sparkai.wiring import get_authenticator

# API Gateway answers 401 (the UNAUTHORIZED gateway response) only for this exact message.
UNAUTHORIZED = "Unauthorized"
# Our faults only (the key store unreachable, a bug): AuthorizerInternalErrorsAlarm reads it.
INTERNAL_ERRORS = "AuthorizerInternalErrors"


class AuthorizerUnavailable(RuntimeError):
    """Raised so API Gateway answers with AUTHORIZER_FAILURE (503) instead of allowing."""


def _header(event: APIGatewayAuthorizerRequestEvent, name: str) -> str | None:
    for key, value in (event.headers or {}).items():
        if key.lower() == name:
            return value
    return None


def authorize(
    raw_event: dict[str, Any], authenticator: Authenticator | None = None
) -> dict[str, Any]:
    """The authorizer's answer for one API Gateway REQUEST event."""
    event = APIGatewayAuthorizerRequestEvent(raw_event)
    try:
        principal = (authenticator or get_authenticator()).authenticate(
            _header(event, "authorization")
        )
    except InvalidApiKeyError:
        # A client's mistake, not a fault: Lambda counts this raise in its Errors metric (API
        # Gateway needs it for the 401), so no alarm reads the authorizer's Lambda Errors.
        raise Exception(UNAUTHORIZED) from None
    except AuthUnavailableError as exc:
        count_failure(INTERNAL_ERRORS)
        logger.exception("auth.unavailable")
        raise AuthorizerUnavailable("key store unavailable") from exc
    except Exception:
        count_failure(INTERNAL_ERRORS)
        logger.exception("auth.failed")
        raise

    arn = event.parsed_arn
    response = APIGatewayAuthorizerResponse(
        principal_id=principal.key_id,
        region=arn.region,
        aws_account_id=arn.aws_account_id,
        api_id=arn.api_id,
        stage=arn.stage,
        # Cached per Authorization header: one allow-all policy serves every route.
        context={
            "account_id": principal.account_id,
            "key_id": principal.key_id,
            "key_hash": principal.key_hash,
            "plan": principal.plan,
            "rpm": principal.limits.requests_per_minute,
            "tpm": principal.limits.tokens_per_minute,
            # The monthly spend limit reaches the limiter with the principal (no extra read).
            "spend_limit_usd": ""
            if principal.spend_limit_usd is None
            else format(principal.spend_limit_usd, "f"),
            # A trial account's lifetime credit, the same way ("" = not a trial).
            "trial_credit_usd": ""
            if principal.trial_credit_usd is None
            else format(principal.trial_credit_usd, "f"),
            # The stage access log writes $context.authorizer.key_prefix: which key, never the key.
            "key_prefix": principal.key_prefix,
            # Which copy of the account's limits these are: the limiter corrects a cached answer
            # the account's limits have moved past (sparkai.limits.published).
            "limits_epoch": principal.limits_epoch,
        },
        usage_identifier_key=principal.usage_key,
    )
    response.allow_all_routes()
    logger.info(
        "auth.allowed", extra={"account_id": principal.account_id, "key_id": principal.key_id}
    )
    return response.asdict()

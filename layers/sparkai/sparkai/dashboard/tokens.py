"""Who is signed in to the dashboard: a Cognito ID token, checked here or by API Gateway.

PyJWT (with `cryptography`) is imported on the first verification, never at module import: the
chat path and the authorizer must not pay for it (~65 ms with `cryptography`, measured on this machine).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sparkai.errors import InvalidSessionError
from sparkai.observability import logger

# Cognito signs ID tokens with RS256 only. Pinning the algorithm refuses `alg: none` and the
# HS256-with-the-public-key confusion whatever the token's header claims.
ALGORITHMS = ["RS256"]
JWKS_CACHE_SECONDS = 3600  # Cognito rotates keys rarely; an unknown kid forces a refetch anyway
_INVALID = "Sign in again: the session token is missing, invalid or expired."


@dataclass(frozen=True)
class DashboardUser:
    """A signed-in person: the user pool's stable id for them, their e-mail, and whether they
    proved they read it (Cognito's `email_verified`: keys are issued only then)."""

    sub: str
    email: str
    email_verified: bool = False


def issuer_for(user_pool_id: str) -> str:
    region = user_pool_id.split("_", 1)[0]
    return f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"


def id_token(authorization: str | None) -> str | None:
    """The ID token itself, as API Gateway's Cognito user pool authorizer takes it: the whole
    Authorization header, no `Bearer ` scheme ("call the API method with one of the tokens ... set
    to the request's Authorization header", API Gateway developer guide,
    apigateway-integrate-with-cognito). The local stack refuses what that authorizer does."""
    token = (authorization or "").strip()
    if " " in token or token.count(".") != 2:
        return None  # an API key (sk-spark-...) is not a JWT and never gets this far
    return token


def user_from_claims(claims: Mapping[str, Any], client_id: str) -> DashboardUser:
    """The user an already verified set of claims names; only ID tokens of our app client."""
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if claims.get("token_use") != "id" or client_id not in audiences or not claims.get("sub"):
        raise InvalidSessionError(_INVALID)
    # A verified token carries a JSON boolean; API Gateway's Cognito authorizer passes every claim
    # to the function as a string ("true").
    verified = claims.get("email_verified")
    return DashboardUser(
        sub=str(claims["sub"]),
        email=str(claims.get("email", "")),
        email_verified=verified is True or verified == "true",
    )


class CognitoTokenVerifier:
    """Checks an ID token's signature (the pool's JWKS), issuer, audience, token_use and expiry."""

    def __init__(
        self,
        *,
        user_pool_id: str,
        client_id: str,
        jwks_url: str = "",
        clock: Callable[[], float] = time.time,
        fetch_timeout: float = 3.0,
    ) -> None:
        self._issuer = issuer_for(user_pool_id)
        self._client_id = client_id
        self._jwks_url = jwks_url or self._issuer + "/.well-known/jwks.json"
        self._clock = clock
        self._timeout = fetch_timeout
        self._jwks: Any = None
        self._lock = threading.Lock()

    def _jwk_client(self) -> Any:
        with self._lock:
            if self._jwks is None:
                import jwt

                self._jwks = jwt.PyJWKClient(
                    self._jwks_url, lifespan=JWKS_CACHE_SECONDS, timeout=self._timeout
                )
            return self._jwks

    def verify(self, authorization: str | None) -> DashboardUser:
        token = id_token(authorization)
        if token is None:
            raise InvalidSessionError(
                "Sign in to the dashboard: send the Cognito ID token as 'Authorization: <token>' "
                "(the token alone, no 'Bearer ' prefix)."
            )
        import jwt

        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") not in ALGORITHMS:
                raise jwt.InvalidAlgorithmError(str(header.get("alg")))
            key = self._jwk_client().get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                key.key,
                algorithms=ALGORITHMS,
                audience=self._client_id,
                issuer=self._issuer,
                # Expiry is checked below against our clock (tests expire tokens without waiting).
                options={
                    "require": ["exp", "iat", "iss", "aud", "sub", "token_use"],
                    "verify_exp": False,
                    "verify_iat": False,
                },
            )
            if not isinstance(claims["exp"], int | float) or claims["exp"] <= self._clock():
                raise jwt.ExpiredSignatureError("expired")
        except jwt.PyJWKClientConnectionError as exc:
            # The pool's keys could not be fetched: not the caller's fault, but nothing may pass.
            logger.warning("dashboard.jwks_unavailable", extra={"error": type(exc).__name__})
            raise InvalidSessionError(_INVALID) from None
        except (jwt.PyJWTError, ValueError) as exc:
            logger.info("dashboard.token_refused", extra={"reason": type(exc).__name__})
            raise InvalidSessionError(_INVALID) from None
        return user_from_claims(claims, self._client_id)


def user_from_authorizer(event: Mapping[str, Any] | None, client_id: str) -> DashboardUser:
    """Behind API Gateway's Cognito authorizer: the claims it verified, from the Lambda event.
    Only API Gateway writes requestContext.authorizer, so a client cannot forge it."""
    context = ((event or {}).get("requestContext") or {}).get("authorizer") or {}
    claims = context.get("claims")
    if not isinstance(claims, Mapping):
        logger.error("dashboard.missing_authorizer_claims")
        raise InvalidSessionError(_INVALID)
    return user_from_claims(claims, client_id)

"""The dashboard's user pool on the local AWS endpoint (moto's cognito-idp), shaped like the
template's: e-mail as the user name, e-mail verification on, a public app client (no secret)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sparkai_local.endpoint import REGION, client

POOL_NAME = "sparkai-local-dashboard"
# Cognito's own JSON protocol (what the dashboard's browser code speaks, locally and in AWS).
TARGET_PREFIX = "AWSCognitoIdentityProviderService."


@dataclass(frozen=True)
class LocalUserPool:
    aws_url: str
    pool_id: str
    client_id: str

    @property
    def jwks_url(self) -> str:
        # moto serves each pool's public keys where Cognito does, under its own host.
        return f"{self.aws_url}/{self.pool_id}/.well-known/jwks.json"

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{REGION}.amazonaws.com/{self.pool_id}"


def create_user_pool(aws_url: str) -> LocalUserPool:
    cognito = client("cognito-idp", aws_url)
    pool = cognito.create_user_pool(
        PoolName=POOL_NAME,
        UsernameAttributes=["email"],
        AutoVerifiedAttributes=["email"],
        Policies={
            "PasswordPolicy": {
                "MinimumLength": 10,
                "RequireUppercase": False,
                "RequireLowercase": True,
                "RequireNumbers": True,
                "RequireSymbols": False,
            }
        },
    )["UserPool"]
    app_client = cognito.create_user_pool_client(
        UserPoolId=pool["Id"],
        ClientName="dashboard",
        GenerateSecret=False,
        ExplicitAuthFlows=[
            "ALLOW_USER_PASSWORD_AUTH",
            "ALLOW_USER_SRP_AUTH",
            "ALLOW_REFRESH_TOKEN_AUTH",
        ],
        PreventUserExistenceErrors="ENABLED",
        # As the template's client: the ID token carries email and email_verified (moto puts
        # only the client's readable attributes in it), which the dashboard's key check reads.
        ReadAttributes=["email", "email_verified"],
        WriteAttributes=["email"],
    )["UserPoolClient"]
    return LocalUserPool(aws_url, pool["Id"], app_client["ClientId"])


def confirm(pool: LocalUserPool, username: str) -> None:
    """What the e-mailed code does in AWS (ConfirmSignUp with the code confirms the user and, the
    pool auto-verifying e-mail, sets email_verified); locally sign-up needs no mail. The admin
    confirmation alone leaves email_verified unset, in Cognito as in moto, and the dashboard
    issues keys only to verified addresses: so it is set here, as the code would."""
    cognito = client("cognito-idp", pool.aws_url)
    cognito.admin_confirm_sign_up(UserPoolId=pool.pool_id, Username=username)
    cognito.admin_update_user_attributes(
        UserPoolId=pool.pool_id,
        Username=username,
        UserAttributes=[{"Name": "email_verified", "Value": "true"}],
    )


def sign_up_and_sign_in(
    pool: LocalUserPool, email: str, password: str, *, verify_email: bool = True
) -> dict[str, Any]:
    """A confirmed user and their tokens (AuthenticationResult), as the dashboard would get them.
    `verify_email=False`: confirmed but with the address not verified (an admin-confirmed user,
    or one whose e-mail changed and awaits its code)."""
    cognito = client("cognito-idp", pool.aws_url)
    cognito.sign_up(
        ClientId=pool.client_id,
        Username=email,
        Password=password,
        UserAttributes=[{"Name": "email", "Value": email}],
    )
    if verify_email:
        confirm(pool, email)
    else:
        cognito.admin_confirm_sign_up(UserPoolId=pool.pool_id, Username=email)
    return sign_in(pool, email, password)


def sign_in(pool: LocalUserPool, email: str, password: str) -> dict[str, Any]:
    cognito = client("cognito-idp", pool.aws_url)
    tokens: dict[str, Any] = cognito.initiate_auth(
        ClientId=pool.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": password},
    )["AuthenticationResult"]
    return tokens

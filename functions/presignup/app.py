"""Lambda entry point: Cognito's pre sign-up trigger for the dashboard's user pool.

Refuses an address at a disposable-mail domain by raising: Cognito then answers the sign-up with
UserLambdaValidationException ("PreSignUp failed with error <message>.") and creates no user.
Anything else goes on unchanged (the event is returned as it came, so e-mail verification stays on).
A user an operator creates (AdminCreateUser) is the operator's decision and is not checked.
"""

from __future__ import annotations

from typing import Any

from disposable_email_domains import blocklist

from sparkai.config import SignUpSettings, load_settings
from sparkai.signup import EmailDomainPolicy, domains

SHIPPED = frozenset(blocklist)  # the package's list, read once per container


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event.get("triggerSource") == "PreSignUp_AdminCreateUser":
        return event
    settings = load_settings(SignUpSettings)  # per sign-up: a few variables, microseconds
    policy = EmailDomainPolicy(
        blocked=SHIPPED | domains(settings.blocked_email_domains),
        allowed=domains(settings.allowed_email_domains),
    )
    email = str(((event.get("request") or {}).get("userAttributes") or {}).get("email", ""))
    policy.check(email)  # SignUpRefused: its message is what Cognito shows the person
    return event

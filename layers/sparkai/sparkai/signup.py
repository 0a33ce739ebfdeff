"""Who may sign up for the dashboard: e-mail addresses at disposable-mail domains are refused.

Run by Cognito's pre sign-up trigger (functions/presignup) before a user exists, and by the local
stack's sign-up route, so the same address is refused in both. The blocklist is passed in (the
trigger ships the disposable-email-domains package's list), plus the operator's own additions and
exemptions (SPARKAI_BLOCKED_EMAIL_DOMAINS, SPARKAI_ALLOWED_EMAIL_DOMAINS; template parameters).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class SignUpRefused(Exception):
    """This address may not sign up; the message says why, for the person signing up."""


def domains(text: str) -> frozenset[str]:
    """A comma-separated setting as lower-case domains ("" is none)."""
    return frozenset(d.strip().lower().rstrip(".") for d in text.split(",") if d.strip())


def _suffixes(domain: str) -> Iterable[str]:
    """mail.example.com -> mail.example.com, example.com (never the bare top-level domain)."""
    labels = domain.split(".")
    return (".".join(labels[i:]) for i in range(len(labels) - 1))


@dataclass(frozen=True)
class EmailDomainPolicy:
    blocked: frozenset[str]
    allowed: frozenset[str] = frozenset()

    def check(self, email: str) -> None:
        """Raise SignUpRefused for an address at a blocked domain or any subdomain of one,
        unless the operator allowed that domain (or a parent of it)."""
        local, at, domain = email.strip().rpartition("@")
        domain = domain.lower().rstrip(".")
        if not (local and at and "." in domain):
            raise SignUpRefused("Enter a valid e-mail address.")
        suffixes = list(_suffixes(domain))
        if any(s in self.allowed for s in suffixes):
            return
        if any(s in self.blocked for s in suffixes):
            raise SignUpRefused(
                f"Addresses at {domain} cannot sign up: it is a disposable-mail domain. "
                "Sign up with an address you will keep."
            )

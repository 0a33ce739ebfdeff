"""Who may sign up (sparkai.signup): disposable-mail domains and their subdomains are refused,
the operator's additions too, and the operator's exemptions win. Pure: no AWS."""

from __future__ import annotations

import pytest

from sparkai.signup import EmailDomainPolicy, SignUpRefused, domains

POLICY = EmailDomainPolicy(
    blocked=domains("mailinator.com, Throwaway.Example ,"),
    allowed=domains("ok.throwaway.example"),
)


@pytest.mark.parametrize(
    "email",
    [
        "ada@mailinator.com",
        "ada@MAILINATOR.COM",
        "ada@mx.mailinator.com",  # a subdomain of a listed domain
        "ada@mailinator.com.",  # the root label
        "ada@throwaway.example",
    ],
)
def test_addresses_at_blocked_domains_are_refused(email: str) -> None:
    with pytest.raises(SignUpRefused, match="disposable-mail domain"):
        POLICY.check(email)


@pytest.mark.parametrize(
    "email",
    [
        "ada@example.com",
        "ada@notmailinator.com",  # a different domain that merely ends the same way
        "ada@ok.throwaway.example",  # exempted by the operator
        "ada@x.ok.throwaway.example",
        '"ada@mailinator.com"@example.com',  # the domain is what follows the last @
    ],
)
def test_other_addresses_are_accepted(email: str) -> None:
    POLICY.check(email)


@pytest.mark.parametrize("email", ["", "ada", "ada@", "@example.com", "ada@localhost"])
def test_what_is_not_an_address_is_refused(email: str) -> None:
    with pytest.raises(SignUpRefused, match="valid e-mail"):
        POLICY.check(email)


def test_a_bare_top_level_domain_in_a_list_never_blocks_everything() -> None:
    EmailDomainPolicy(blocked=domains("com")).check("ada@example.com")


def test_domains_reads_a_comma_separated_setting() -> None:
    assert domains("") == frozenset()
    assert domains(" A.example, b.example. ,,") == {"a.example", "b.example"}

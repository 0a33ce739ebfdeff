"""The Cognito pre sign-up trigger as `sam local invoke` runs it (template's CodeUri, Handler,
layer and environment; events/presignup): a disposable-mail address raises, so Cognito refuses
the sign-up and creates no user; any other goes on with the event unchanged."""

from __future__ import annotations

import pytest

from sparkai.signup import SignUpRefused
from tests.support.events import load_event
from tests.support.lambda_harness import deployed, invoke


def test_an_ordinary_address_goes_on_unchanged() -> None:
    event = load_event("presignup/sign-up")
    assert invoke("PreSignUpFunction", event) == load_event("presignup/sign-up")


def test_a_disposable_address_is_refused_with_a_message_for_the_person() -> None:
    with pytest.raises(SignUpRefused) as refused:
        invoke("PreSignUpFunction", load_event("presignup/disposable-domain"))
    # Cognito shows this as "PreSignUp failed with error <message>."
    assert "mailinator.com" in str(refused.value)
    assert "disposable" in str(refused.value)


def test_a_user_an_operator_creates_is_not_checked() -> None:
    event = load_event(
        "presignup/admin-create-user"
    )  # throwaway@mailinator.com, by AdminCreateUser
    assert invoke("PreSignUpFunction", event) == load_event("presignup/admin-create-user")


def test_the_operator_adds_and_exempts_domains(monkeypatch: pytest.MonkeyPatch) -> None:
    ours = load_event("presignup/sign-up")  # ada@example.com
    exempted = load_event("presignup/disposable-domain")  # throwaway@mailinator.com
    monkeypatch.setenv("SPARKAI_BLOCKED_EMAIL_DOMAINS", "example.com")
    monkeypatch.setenv("SPARKAI_ALLOWED_EMAIL_DOMAINS", "mailinator.com")
    with deployed("PreSignUpFunction") as call:
        with pytest.raises(SignUpRefused):
            call(ours)
        assert call(exempted) == exempted

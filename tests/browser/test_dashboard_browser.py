"""The dashboard as a customer uses it: Debian's headless Chromium (driven by Selenium through the
system chromedriver) against `python -m sparkai_local --model scripted` on real ports.

Sign up, create a key, call /v1/chat with it over HTTP, reload the dashboard and find the request
in the usage table and chart, revoke the key, and see the next call refused with 401. Each page is
saved as a screenshot under test-output/dashboard/. Every wait is on a DOM condition.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.local.conftest import RunningStack, start_stack, stop_stack

pytestmark = [pytest.mark.local]

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-output" / "dashboard"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT_SECONDS = 60  # an upper bound on a loaded 2-core machine; waits end on the condition
PASSWORD = "browser-tier-42"
CHAT = {"model": "spark-turbo", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 20}


def by_testid(name: str) -> tuple[str, str]:
    return ("css selector", f'[data-testid="{name}"]')


@pytest.fixture(scope="module")
def stack() -> Iterator[RunningStack]:
    running = start_stack("--model", "scripted")
    yield running
    if running.process.poll() is None:
        stop_stack(running)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        pytest.skip(
            "no Debian chromium/chromium-driver: run scripts/ensure-browser.sh as root "
            "(make does), or apt-get install chromium chromium-driver"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="sparkai-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


class Page:
    """The dashboard in the browser, with explicit waits on what a person would see."""

    def __init__(self, driver: Any, base: str) -> None:
        from selenium.common.exceptions import StaleElementReferenceException
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver = driver
        self.base = base
        # A re-rendered table replaces its rows: a row read mid-render is read again.
        self.wait = WebDriverWait(
            driver, WAIT_SECONDS, ignored_exceptions=(StaleElementReferenceException,)
        )
        SHOTS.mkdir(parents=True, exist_ok=True)

    def open(self, route: str = "") -> None:
        self.driver.get(f"{self.base}/dashboard/{route}")

    def visible(self, name: str) -> Any:
        from selenium.webdriver.support import expected_conditions as ec

        return self.wait.until(ec.visibility_of_element_located(by_testid(name)))

    def all(self, name: str) -> list[Any]:
        return self.driver.find_elements(*by_testid(name))

    def until(self, condition: Any, message: str) -> Any:
        return self.wait.until(lambda _: condition(), message)

    def shot(self, name: str) -> Path:
        path = SHOTS / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def console_errors(self) -> list[str]:
        return [e["message"] for e in self.driver.get_log("browser") if e["level"] == "SEVERE"]


def test_sign_up_create_call_see_usage_revoke(stack: RunningStack, browser: Any) -> None:
    page = Page(browser, stack.url)
    email = f"browser-{time.time_ns()}@example.com"

    # The page is served with a CSP that allows no inline script, and loads without errors.
    served = requests.get(f"{stack.url}/dashboard/", timeout=10)
    csp = served.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    page.open()
    page.visible("signup-email")
    page.shot("01-sign-in")

    # Sign up (confirmed at once locally) lands on the keys page, signed in.
    page.visible("signup-email").send_keys(email)
    page.visible("signup-password").send_keys(PASSWORD)
    page.visible("signup-submit").click()
    page.visible("create-key")
    assert page.all("key-row") == []
    page.shot("02-keys-empty")

    # Create a key: its secret is shown once, in a dialog, with a copy button.
    page.visible("key-name").send_keys("browser test")
    page.visible("create-key").click()
    secret_box = page.visible("new-key-secret")
    secret = secret_box.get_attribute("value")
    assert secret.startswith("sk-spark-")
    assert "you will not see this again" in browser.find_element("id", "secret-dialog").text
    assert page.visible("copy-key").is_displayed()
    page.shot("03-new-key-dialog")
    page.visible("close-secret").click()
    page.until(lambda: not secret_box.is_displayed(), "the dialog closes")
    # Gone from the DOM and from storage once the dialog is closed; the session is no cookie.
    assert secret not in browser.page_source
    assert secret_box.get_attribute("value") == ""
    storage = browser.execute_script(
        "return JSON.stringify([Object.entries(sessionStorage), Object.entries(localStorage)])"
    )
    assert secret not in storage and "sparkai.dashboard.idToken" in storage
    assert browser.get_cookies() == []
    (row,) = page.all("key-row")
    assert row.get_attribute("data-status") == "active"
    assert "browser test" in row.text and secret[:13] in row.text and secret not in row.text
    page.shot("04-keys-with-key")

    # The key calls the model over plain HTTP, as a customer's code would.
    answer = requests.post(
        f"{stack.url}/v1/chat", headers={"Authorization": f"Bearer {secret}"}, json=CHAT, timeout=30
    )
    assert answer.status_code == 200, answer.text
    tokens = answer.json()["usage"]["total_tokens"]

    # Reload the usage page: the request is in the totals, the table and the chart.
    page.open("#/usage")
    browser.refresh()
    total = page.visible("usage-total-tokens")
    page.until(lambda: total.text == f"{tokens:,}", f"total tokens show {tokens}")
    (usage_row,) = page.until(lambda: page.all("usage-row"), "a usage row")
    assert usage_row.get_attribute("data-model") == "spark-turbo"
    assert "browser test" in usage_row.text and f"{tokens:,}" in usage_row.text
    chart = page.visible("usage-chart")
    bars = chart.find_elements("css selector", "rect[data-model='spark-turbo']")
    assert [int(b.get_attribute("data-tokens")) for b in bars] == [tokens]
    # Spend and limit are the usage API's own numbers (the same ledger), exact decimal strings.
    ledger = requests.get(
        f"{stack.url}/v1/usage", headers={"Authorization": f"Bearer {secret}"}, timeout=10
    ).json()
    assert ledger["month_to_date_usd"] != "0"
    assert page.visible("month-spend").text == "$" + ledger["month_to_date_usd"]
    limit = ledger["spend_limit_usd"]
    assert page.visible("spend-limit").text == ("no limit" if limit is None else "$" + limit)
    assert browser.find_element("id", "plan-rpm").text == "30"  # Starter
    # A sign-up is a trial: the page shows its one-off credit and what is left after this answer.
    assert page.visible("trial-credit").text == "$5"
    left = Decimal(5) - Decimal(ledger["month_to_date_usd"])
    assert page.visible("trial-remaining").text == f"${left}"
    assert browser.find_element("id", "plan-tpm").text == "15,000"
    page.shot("05-usage")

    # The quickstart shows the real URLs and never a key.
    page.open("#/quickstart")
    assert page.visible("base-url").text == stack.url
    structured = page.visible("structured-example").text
    assert f'"{stack.url}/v1/chat"' in structured and '"type": "json_schema"' in structured
    assert "sk-spark-" + secret[9:] not in browser.page_source
    page.shot("06-quickstart")

    # Revoke from the dashboard: the next call is refused at once.
    page.open("#/keys")
    page.visible("revoke-key").click()
    page.visible("confirm-revoke").click()
    page.until(
        lambda: page.all("key-row")[0].get_attribute("data-status") == "revoked",
        "the key shows as revoked",
    )
    assert page.all("revoke-key") == []
    page.shot("07-revoked")
    refused = requests.post(
        f"{stack.url}/v1/chat", headers={"Authorization": f"Bearer {secret}"}, json=CHAT, timeout=30
    )
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_api_key"
    assert page.console_errors() == []


def test_wrong_password_and_signed_out_pages(stack: RunningStack, browser: Any) -> None:
    page = Page(browser, stack.url)
    page.open()
    browser.execute_script("sessionStorage.clear()")
    browser.refresh()
    page.visible("signin-email").send_keys("nobody@example.com")
    page.visible("signin-password").send_keys("wrong-password-1")
    page.visible("signin-submit").click()
    error = page.visible("auth-error")
    assert "Incorrect e-mail or password" in error.text
    page.shot("08-sign-in-error")
    # Signed out, no dashboard data is shown or fetched.
    assert not browser.find_element("id", "view-keys").is_displayed()

"""The operator dashboard in a real browser, from the Procfile's web process with a real
worker process: signing in and out, progress bars that advance while a batch sends (no reload),
cancelling from the page, CSRF and tenancy refusals, an expired session.

With HERALD_SCREENSHOTS=1 the main pages are saved to docs/images/dashboard-*.png (the
operators' guide, docs/dashboard.md, shows them).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from app.config import PROJECT_ROOT
from app.runtime import Runtime
from tests.support.browser import chromium
from tests.support.dashboard import session_keys
from tests.support.factories import ORDER_CHANNELS, ORDER_SCHEMA, Tenant, make_tenant
from tests.support.processes import RunningProcess, procfile_process, wait_for_log

WAIT_S = 30
SCREENSHOTS = os.environ.get("HERALD_SCREENSHOTS") == "1"
IMAGES = PROJECT_ROOT / "docs" / "images"


@pytest.fixture(scope="module")
def worker_process(
    postgresql_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningProcess]:
    """The Procfile's worker process, on the web process's database."""
    log_dir: Path = tmp_path_factory.mktemp("worker")
    with procfile_process("worker", database_url=postgresql_url, log_dir=log_dir) as worker:
        wait_for_log(worker, r"is ready for action")
        yield worker


@pytest.fixture
def browser() -> Iterator[Chrome]:
    with chromium() as driver:
        yield driver


def api(web: RunningProcess, tenant: Tenant) -> httpx.Client:
    return httpx.Client(base_url=web.base_url, headers=tenant.headers(), timeout=10)


def approve_order_template(web: RunningProcess, tenant: Tenant) -> None:
    with api(web, tenant) as client:
        body = {
            "key": "order-confirmation",
            "name": "Order confirmation",
            "channels": ORDER_CHANNELS,
            "variableSchema": ORDER_SCHEMA,
        }
        assert client.post("/api/templates", json=body).status_code == 201
        for action in ("submit", "approve"):
            assert client.post(f"/api/templates/order-confirmation/{action}", json={}).is_success


def send_batch(
    web: RunningProcess, tenant: Tenant, count: int, send_at: datetime | None = None
) -> str:
    request: dict[str, Any] = {
        "template": {
            "key": "order-confirmation",
            "variables": {"customerName": "Jane", "orderId": "ORD-1"},
        },
        "targets": [{"email": f"reader{i}@example.com"} for i in range(count)],
        "mode": "batch",
    }
    if send_at is not None:
        request["sendAt"] = send_at.isoformat()
    with api(web, tenant) as client:
        response = client.post("/api/notifications/send", json=request)
    assert response.status_code == 202, response.text
    return response.json()["notificationId"]


def open_batch(
    browser: Chrome,
    web: RunningProcess,
    tenant: Tenant,
    count: int,
    send_at: datetime | None = None,
) -> str:
    """Signed in as the tenant, a batch of the order template (approved here) to `count` readers,
    its page open in the browser; the notification's id."""
    approve_order_template(web, tenant)
    sign_in(browser, web, tenant.secret)
    notification_id = send_batch(web, tenant, count, send_at)
    browser.get(f"{web.base_url}/dashboard/notifications/{notification_id}")
    return notification_id


def sign_in(browser: Chrome, web: RunningProcess, secret: str) -> None:
    browser.get(f"{web.base_url}/dashboard/sign-in")
    browser.find_element(By.ID, "secret").send_keys(secret)
    browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    WebDriverWait(browser, WAIT_S).until(lambda b: b.find_elements(By.CSS_SELECTOR, "nav"))


def heading(browser: Chrome) -> str:
    """The page's h1, read in one script call (never stale while a form's answer loads)."""
    return browser.execute_script(
        "const h = document.querySelector('h1'); return h ? h.innerText.trim() : '';"
    )


def screenshot(browser: Chrome, name: str) -> None:
    if SCREENSHOTS:
        IMAGES.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(IMAGES / f"dashboard-{name}.png"))


def bar_value(browser: Chrome, bar_id: str) -> tuple[float, float] | None:
    """A progress bar's value and max; None while it is indeterminate."""
    return browser.execute_script(
        "const b = document.getElementById(arguments[0]);"
        "return b.hasAttribute('value') ? [b.value, b.max] : null;",
        bar_id,
    )


def test_signing_in_and_out(browser: Chrome, web: RunningProcess, acme: Tenant):
    sign_in(browser, web, acme.secret)
    assert heading(browser) == "Notifications"
    assert acme.secret not in browser.page_source
    screenshot(browser, "sign-in-done")

    browser.find_element(By.CSS_SELECTOR, ".sign-out button").click()
    WebDriverWait(browser, WAIT_S).until(lambda b: "signed out" in b.page_source)
    browser.get(f"{web.base_url}/dashboard/notifications")

    assert heading(browser) == "Sign in"
    cookie = browser.get_cookie("herald_dashboard")
    assert cookie is None


@pytest.mark.usefixtures("worker_process", "smtp_sink")
def test_a_progress_bar_advances_while_a_batch_sends_and_ends_complete_without_reload(
    browser: Chrome, web: RunningProcess, pg_runtime: Runtime
):
    tenant = make_tenant(pg_runtime, "paced", email_per_second=10)
    notification_id = open_batch(browser, web, tenant, 40)
    browser.execute_script("window.notReloaded = true;")
    bar_id = f"progress-{notification_id}-email"

    seen: set[float] = set()
    deadline = time.monotonic() + 60
    status = ""
    while time.monotonic() < deadline:
        value = bar_value(browser, bar_id)
        if value:
            seen.add(value[0])
        status = browser.find_element(By.CSS_SELECTOR, f'[data-status="{notification_id}"]').text
        if status == "completed":
            break
        if len(seen) == 3:
            screenshot(browser, "notification-sending")
        time.sleep(0.2)

    assert status == "completed"
    assert bar_value(browser, bar_id) == [40, 40]
    assert len([v for v in seen if 0 < v < 40]) >= 2, sorted(seen)  # moved in steps
    assert browser.execute_script("return window.notReloaded === true;")
    assert browser.find_element(By.ID, bar_id).get_attribute("aria-label") == (
        f"email progress of notification {notification_id}"
    )
    screenshot(browser, "notification")
    browser.get(f"{web.base_url}/dashboard/notifications")
    screenshot(browser, "notifications")


@pytest.mark.usefixtures("worker_process", "smtp_sink")
def test_cancelling_a_send_from_its_page(browser: Chrome, web: RunningProcess, pg_runtime: Runtime):
    tenant = make_tenant(pg_runtime, "slow", email_per_second=1)
    notification_id = open_batch(browser, web, tenant, 40)

    browser.find_element(By.CSS_SELECTOR, "form[action$='/cancel'] button").click()
    WebDriverWait(browser, WAIT_S).until(
        lambda b: (
            b.find_element(By.CSS_SELECTOR, f'[data-status="{notification_id}"]').text
            == "cancelled"
        )
    )

    with api(web, tenant) as client:
        assert client.get(f"/api/notifications/{notification_id}").json()["status"] == "cancelled"
    assert not browser.find_elements(By.CSS_SELECTOR, "form[action$='/cancel']")


def test_a_form_posted_without_its_csrf_token_is_refused(
    browser: Chrome, web: RunningProcess, acme: Tenant
):
    # Scheduled an hour ahead: cancellable whether or not a worker runs beside this test.
    notification_id = open_batch(browser, web, acme, 2, datetime.now(UTC) + timedelta(hours=1))

    browser.execute_script(
        "document.querySelector(\"form[action$='/cancel'] input[name=csrf_token]\").remove();"
    )
    browser.find_element(By.CSS_SELECTOR, "form[action$='/cancel'] button").click()
    WebDriverWait(browser, WAIT_S).until(lambda b: heading(b) == "Request refused")

    assert "security token" in browser.page_source
    with api(web, acme) as client:
        assert client.get(f"/api/notifications/{notification_id}").json()["status"] != "cancelled"


def test_an_expired_session_is_sent_to_sign_in(
    browser: Chrome, web: RunningProcess, acme: Tenant, pg_runtime: Runtime
):
    sign_in(browser, web, acme.secret)
    for key in session_keys(pg_runtime):
        pg_runtime.redis.pexpire(key, 1)  # its idle time is up
    time.sleep(0.05)

    browser.get(f"{web.base_url}/dashboard/notifications")

    assert heading(browser) == "Sign in"
    assert "session has ended" in browser.page_source


def test_another_apps_notification_answers_404(
    browser: Chrome, web: RunningProcess, acme: Tenant, pg_runtime: Runtime
):
    other = make_tenant(pg_runtime, "globex")
    approve_order_template(web, other)
    theirs = send_batch(web, other, 1)
    sign_in(browser, web, acme.secret)
    url = f"{web.base_url}/dashboard/notifications/{theirs}"

    browser.get(url)
    status = browser.execute_script("return fetch(arguments[0]).then(r => r.status);", url)

    assert heading(browser) == "Not found"
    assert status == 404


def test_pages_reach_no_other_host_and_log_no_error(
    browser: Chrome, web: RunningProcess, acme: Tenant
):
    sign_in(browser, web, acme.secret)
    for path in ("notifications", "settings"):
        browser.get(f"{web.base_url}/dashboard/{path}")
    loaded = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]

    assert loaded and all(url.startswith(f"{web.base_url}/") for url in loaded), loaded
    assert errors == []
    screenshot(browser, "settings")


def pending_order_template(web: RunningProcess, tenant: Tenant) -> None:
    """The order template approved as version 1, and a changed version 2 submitted for review."""
    approve_order_template(web, tenant)
    channels = {**ORDER_CHANNELS, "email": {**ORDER_CHANNELS["email"], "subject": "Thanks!"}}
    body = {"name": "Order confirmation", "channels": channels, "variableSchema": ORDER_SCHEMA}
    with api(web, tenant) as client:
        assert client.put("/api/templates/order-confirmation", json=body).is_success
        assert client.post("/api/templates/order-confirmation/submit", json={}).is_success


def test_approving_a_pending_version_lets_the_send_api_use_it(
    browser: Chrome, web: RunningProcess, acme: Tenant
):
    pending_order_template(web, acme)
    sign_in(browser, web, acme.secret)
    browser.get(f"{web.base_url}/dashboard/templates/order-confirmation")
    screenshot(browser, "template")

    browser.find_element(By.XPATH, "//button[text()='Approve version 2']").click()
    WebDriverWait(browser, WAIT_S).until(
        lambda b: "Sends use version 2." in b.find_element(By.TAG_NAME, "main").text
    )

    send_batch(web, acme, 1)  # asserts 202
    with api(web, acme) as client:
        version = client.get("/api/templates/order-confirmation/versions/2").json()
    assert version["status"] == "approved"


def test_the_diff_of_two_versions(browser: Chrome, web: RunningProcess, acme: Tenant):
    pending_order_template(web, acme)
    sign_in(browser, web, acme.secret)
    browser.get(f"{web.base_url}/dashboard/templates/order-confirmation")

    browser.find_element(By.XPATH, "//button[text()='Compare']").click()
    WebDriverWait(browser, WAIT_S).until(lambda b: b.find_elements(By.CSS_SELECTOR, "table.diff"))
    removed = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "td.removed")]
    added = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "td.added")]

    assert heading(browser) == "Version 1 against version 2"
    assert any("Order {{ orderId }} confirmed" in line for line in removed), removed
    assert any('"subject": "Thanks!"' in line for line in added), added
    screenshot(browser, "diff")


def test_the_preview_shows_the_email_in_a_sandboxed_frame(
    browser: Chrome, web: RunningProcess, acme: Tenant
):
    approve_order_template(web, acme)
    sign_in(browser, web, acme.secret)
    browser.get(f"{web.base_url}/dashboard/templates/order-confirmation/versions/1/preview")
    frame = browser.find_element(By.CSS_SELECTOR, "iframe")

    assert frame.get_attribute("sandbox") == ""
    browser.switch_to.frame(frame)
    assert "Hi example customerName" in browser.find_element(By.TAG_NAME, "body").text
    browser.switch_to.default_content()
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
    screenshot(browser, "preview")


def test_finding_a_user_by_the_start_of_their_email_and_opening_their_page(
    browser: Chrome, web: RunningProcess, acme: Tenant
):
    with api(web, acme) as client:
        for external_id, email in (("ada-1", "ada@example.com"), ("alan-2", "alan@example.com")):
            user = {"user": {"external_id": external_id, "email": email, "first_name": "Ada"}}
            assert client.post("/users", json=user).status_code == 201
    sign_in(browser, web, acme.secret)

    browser.find_element(By.LINK_TEXT, "Users").click()
    WebDriverWait(browser, WAIT_S).until(lambda b: heading(b) == "Users")
    search_box(browser).send_keys("ada@", Keys.ENTER)  # by keyboard: Enter submits the search
    WebDriverWait(browser, WAIT_S).until(lambda b: "starts with “ada@”" in b.page_source)
    rows = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "tbody tr")]
    described_by = search_box(browser).get_attribute("aria-describedby")
    screenshot(browser, "users")
    browser.find_element(By.CSS_SELECTOR, "tbody a").click()
    WebDriverWait(browser, WAIT_S).until(lambda b: heading(b) == "User ada-1")
    profile = browser.find_element(By.CSS_SELECTOR, "section[aria-labelledby=profile-heading]")

    assert len(rows) == 1 and "ada@example.com" in rows[0], rows
    assert described_by == "search-help"
    assert "ada@example.com" in profile.text
    screenshot(browser, "user")


def search_box(browser: Chrome) -> WebElement:
    return browser.find_element(By.CSS_SELECTOR, "input[name=q]")

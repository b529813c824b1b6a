"""/docs in a real browser, from the Procfile's web process: Swagger UI renders the operations
with their schemas and examples, and "Try it out" calls the API with the authorized headers,
while no host but the server's is reached."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.browser import chromium
from tests.support.factories import Tenant
from tests.support.processes import RunningProcess

WAIT_S = 30


@pytest.fixture
def docs(web: RunningProcess) -> Iterator[Chrome]:
    """Chromium showing /docs once Swagger UI has drawn the operations."""
    with chromium() as browser:
        browser.get(f"{web.base_url}/docs")
        WebDriverWait(browser, WAIT_S).until(lambda b: b.find_elements(By.CSS_SELECTOR, ".opblock"))
        yield browser


def operation(browser: Chrome, tag: str, operation_id: str) -> WebElement:
    """An operation's block, expanded."""
    block = browser.find_element(By.ID, f"operations-{tag}-{operation_id}")
    block.find_element(By.CSS_SELECTOR, ".opblock-summary-control").click()
    WebDriverWait(browser, WAIT_S).until(
        lambda b: block.find_elements(By.CSS_SELECTOR, ".opblock-body")
    )
    return block


def test_docs_lists_every_operation_of_the_document(docs: Chrome):
    paths = [e.text for e in docs.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")]
    documented = docs.execute_script(
        "return fetch('/openapi.json').then(r => r.json())"
        ".then(d => Object.values(d.paths).reduce((n, p) => n + Object.keys(p).length, 0))"
    )

    assert len(paths) == documented > 50
    assert "/api/notifications/send" in [p.replace("\u200b", "") for p in paths]


def test_docs_shows_request_and_response_schemas_with_examples(docs: Chrome):
    send = operation(docs, "Notifications", "send_notification")
    request_body = send.find_element(By.CSS_SELECTOR, ".opblock-section-request-body")
    responses = send.find_element(By.CSS_SELECTOR, ".responses-wrapper")

    assert '"targets"' in request_body.text and '"template"' in request_body.text
    assert "Example Value" in request_body.text and "Schema" in request_body.text
    assert {"202", "400", "401"} <= {
        e.text for e in responses.find_elements(By.CSS_SELECTOR, ".response-col_status")
    }
    assert '"notificationId"' in responses.text


def test_try_it_out_calls_this_server_with_the_authorized_headers(docs: Chrome, acme: Tenant):
    authorize(docs, {"appId": acme.app_id, "appSecret": acme.secret})
    current_app = operation(docs, "Apps", "show_current_app")
    current_app.find_element(By.CSS_SELECTOR, ".try-out__btn").click()
    current_app.find_element(By.CSS_SELECTOR, ".execute").click()
    live = WebDriverWait(docs, WAIT_S).until(
        lambda b: current_app.find_elements(By.CSS_SELECTOR, ".live-responses-table .response")
    )[0]

    assert live.find_element(By.CSS_SELECTOR, ".response-col_status").text == "200"
    assert acme.app_id in live.text


def test_docs_reaches_no_other_host_and_logs_no_error(docs: Chrome, web: RunningProcess):
    loaded = docs.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    errors = [e for e in docs.get_log("browser") if e["level"] == "SEVERE"]

    assert loaded and all(url.startswith(f"{web.base_url}/") for url in loaded), loaded
    assert errors == []


def authorize(browser: Chrome, values: dict[str, str]) -> None:
    """Fill the Authorize dialog's fields of these security schemes, as a person would."""
    browser.find_element(By.CSS_SELECTOR, ".btn.authorize").click()
    for form in browser.find_elements(By.CSS_SELECTOR, ".modal-ux .auth-container form"):
        scheme = form.find_element(By.CSS_SELECTOR, "h4").text.split()[0]
        if scheme in values:
            form.find_element(By.CSS_SELECTOR, "input").send_keys(values[scheme])
            form.find_element(By.CSS_SELECTOR, ".modal-btn.authorize").click()
    browser.find_element(By.CSS_SELECTOR, ".modal-ux .btn-done").click()

"""A real browser for tests: headless Chromium driven by Selenium, that reaches loopback only.

Debian's `chromium` and `chromium-driver` packages provide the browser and its driver; a test
that needs them fails (never skips) when they are missing, naming the command that installs
them. Every host name but 127.0.0.1 is made unresolvable, so a page that works here works
offline, and the browser's own background services reach nothing.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

INSTALL = "apt-get install -y chromium chromium-driver"
OFFLINE_FLAGS = (
    "--headless=new",
    "--no-sandbox",  # the suite may run as root, where Chromium's sandbox refuses to start
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--window-size=1400,1000",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
)


def _require(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        pytest.fail(f"{program} is not installed; the browser tests need it: {INSTALL}")
    return path


@contextmanager
def chromium() -> Iterator[webdriver.Chrome]:
    """Headless Chromium that logs the page's console, closed at the end."""
    options = webdriver.ChromeOptions()
    options.binary_location = _require("chromium")
    for flag in OFFLINE_FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(_require("chromedriver")))
    try:
        yield driver
    finally:
        driver.quit()

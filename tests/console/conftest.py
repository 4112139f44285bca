"""Fixtures of the web console's end-to-end tests: a real ``kmsd serve``, its principals, and headless Chromium.

Each test module gets one server of its own on SQLite (the console adds nothing that a store kind changes; the
store suites run on both) with the principals of tests/console/principals.py, so a module's keys are the only keys
its key lists show.  One Chromium serves the whole session: Debian's ``/usr/bin/chromium`` driven by Playwright
through ``executable_path`` (``make system-test-deps`` installs it; ``playwright install`` is never run).  Every
test gets a fresh browser context (no cookies, no storage) and a 1280×800 page whose base URL is its module's
server; a failed test leaves a screenshot of its page in its tmp_path.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, ViewportSize, expect, sync_playwright

from tests.console.principals import REGION, Principal, Principals, make_principals
from tests.integration.server import KmsdServer
from tests.integration.stores import sqlite_url

CHROMIUM = "/usr/bin/chromium"
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
# Long enough for a 2-core machine shared with other jobs; Playwright's auto-waiting means no test waits for nothing.
TIMEOUT_MS = 15_000

expect.set_options(timeout=TIMEOUT_MS)


@dataclass(frozen=True)
class Console:
    """A module's running server and its principals, with boto3 clients to confirm what the console did."""

    server: KmsdServer
    principals: Principals

    @property
    def endpoint(self) -> str:
        return self.server.endpoint

    def client(self, service: str, principal: Principal | None = None) -> Any:
        """A boto3 client for ``service`` signed as ``principal`` (default: the account's root user)."""
        who = principal or self.principals.root
        return self.server.client(
            service, access_key=who.access_key_id, secret_key=who.secret_access_key, region=REGION
        )

    @property
    def kms(self) -> Any:
        return self.client("kms")


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    data_dir = tmp_path_factory.mktemp("kmsd-console")
    server = KmsdServer(data_dir, sqlite_url(data_dir)).start()
    try:
        yield Console(server, make_principals(server))
    finally:
        server.stop()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    driver = sync_playwright().start()
    try:
        yield driver
    finally:
        driver.stop()


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    # --no-sandbox: the tests may run as root (in a container), where Chromium refuses its sandbox.
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    try:
        yield launched
    finally:
        launched.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Note each phase's report on the test item, so the page fixture knows whether the test failed."""
    report: pytest.TestReport = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def context(browser: Browser, console: Console) -> Iterator[BrowserContext]:
    opened = browser.new_context(viewport=DESKTOP, base_url=console.endpoint)
    opened.set_default_timeout(TIMEOUT_MS)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def page(context: BrowserContext, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Page]:
    """A page of the test's own context; after a passing test, the page must have met no script error and no
    Content-Security-Policy violation (an inline style or script the strict CSP refused)."""
    opened = context.new_page()
    troubles: list[str] = []
    opened.on("pageerror", lambda error: troubles.append(f"uncaught error: {error.message}\n{error.stack}"))
    opened.on(
        "console",
        lambda message: (
            troubles.append(f"console: {message.text}") if "Content Security Policy" in message.text else None
        ),
    )
    yield opened
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed and not opened.is_closed():
        opened.screenshot(path=tmp_path / "failure.png", full_page=True)
        print(f"the failed test's page: {tmp_path / 'failure.png'} ({opened.url})")
    elif report is not None and report.passed:
        assert not troubles, "\n".join(troubles)

"""Browser tests: Playwright driving Debian's Chromium against pytest-django's live server.

Write a browser test like this::

    import pytest
    from playwright.sync_api import Page, expect

    pytestmark = pytest.mark.django_db(transaction=True)


    def test_something(page: Page, live_server, demo, login) -> None:
        login("admin")
        page.get_by_role("link", name="DB-100 Riverside Medical Office").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Riverside")

* The live server runs in another thread with its own database connection, so it only sees
  committed data: mark the module ``pytest.mark.django_db(transaction=True)`` (pytest-django
  also switches a test that uses ``live_server`` to the transactional database by itself; the
  mark says so where a reader sees it).
* ``demo`` loads ``manage.py seed_demo`` (users ``admin``, ``approver``, ``viewer``,
  ``collab``, ``outsider``; password ``erpsync-demo``) into that database.
* ``login(username, password="erpsync-demo")`` logs in through the real login form and waits
  for the home page.
* Every page gets a 10 s default timeout (``expect`` too, instead of its 5 s).
* Console errors and uncaught page errors, CSP violations among them, fail the test at
  teardown. A test that provokes one on purpose asserts on ``console_errors`` and clears it.
* The browser is ``/usr/bin/chromium`` (``CHROMIUM_PATH`` overrides it; ``apt-get install
  chromium``). Never run ``playwright install``. A missing browser fails the tests; it never
  skips them.
* Playwright lives only while this package's tests run (the fixtures below narrow
  pytest-playwright's session scope to the package): its sync API keeps an asyncio event loop
  marked as running in the main thread, which would otherwise break ``asyncio.run()`` and
  ``async_to_sync`` in every test that runs after these.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from io import StringIO
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from playwright.sync_api import (
    Browser,
    BrowserContext,
    BrowserType,
    ConsoleMessage,
    Page,
    Playwright,
    WebError,
    expect,
    sync_playwright,
)

# Playwright's sync API keeps an asyncio event loop marked as running in the main thread, and
# Django refuses synchronous database access (the tests' own ORM calls) inside one otherwise.
# Django reads the variable at every check; the `playwright` fixture below sets it for as long
# as that loop exists (unless it is set already) and restores it afterwards.
ALLOW_ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"

TIMEOUT_MS = 10_000
DEMO_PASSWORD = "erpsync-demo"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="session")
def browser_type_launch_args(pytestconfig: pytest.Config) -> dict[str, Any]:
    """Launch the system Chromium (no downloaded browser), headless unless --headed."""
    executable = os.environ.get("CHROMIUM_PATH") or DEFAULT_CHROMIUM
    path = Path(executable)
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(
            f"Chromium not found at {executable}; apt-get install chromium "
            "(or point CHROMIUM_PATH at a Chromium executable). Never run `playwright install`.",
            pytrace=False,
        )
    return {
        "executable_path": str(path),
        "args": CHROMIUM_ARGS,
        "headless": not pytestconfig.getoption("--headed"),
    }


# pytest-playwright's own fixtures, package-scoped instead of session-scoped (see above).


@pytest.fixture(scope="package")
def playwright(_pw_api_request_contexts: Any) -> Iterator[Playwright]:
    previous = os.environ.get(ALLOW_ASYNC_UNSAFE)
    os.environ.setdefault(ALLOW_ASYNC_UNSAFE, "true")
    pw = sync_playwright().start()
    try:
        if _pw_api_request_contexts:
            _pw_api_request_contexts.instrument(pw)
        yield pw
    finally:
        pw.stop()
        if previous is None:
            os.environ.pop(ALLOW_ASYNC_UNSAFE, None)


@pytest.fixture(scope="package")
def browser_type(playwright: Playwright, browser_name: str) -> BrowserType:
    return getattr(playwright, browser_name)


@pytest.fixture(scope="package")
def launch_browser(
    browser_type_launch_args: dict[str, Any], browser_type: BrowserType
) -> Callable[..., Browser]:
    def launch(**kwargs: Any) -> Browser:
        return browser_type.launch(**{**browser_type_launch_args, **kwargs})

    return launch


@pytest.fixture(scope="package")
def browser(launch_browser: Callable[..., Browser]) -> Iterator[Browser]:
    browser = launch_browser()
    yield browser
    browser.close()


@pytest.fixture(scope="package")
def browser_context_args(
    pytestconfig: pytest.Config,
    playwright: Playwright,
    device: str | None,
    base_url: str | None,
    _pw_artifacts_folder: Any,
) -> dict[str, Any]:
    context_args: dict[str, Any] = {}
    if device:
        context_args.update(playwright.devices[device])
    if base_url:
        context_args["base_url"] = base_url
    if pytestconfig.getoption("--video") in ("on", "retain-on-failure"):
        context_args["record_video_dir"] = _pw_artifacts_folder.name
    return context_args


@pytest.fixture
def console_errors() -> list[str]:
    """Console errors and uncaught page errors seen so far in this test's browser context."""
    return []


@pytest.fixture
def context(
    new_context: Callable[..., BrowserContext], console_errors: list[str]
) -> Iterator[BrowserContext]:
    """pytest-playwright's context, with a 10 s timeout and console errors failing the test."""
    browser_context = new_context()
    browser_context.set_default_timeout(TIMEOUT_MS)
    browser_context.set_default_navigation_timeout(TIMEOUT_MS)

    def on_console(message: ConsoleMessage) -> None:
        location = message.location
        # Chromium asks every site for /favicon.ico on its own; its 404 is no page's fault.
        if message.type == "error" and urlsplit(location["url"]).path != "/favicon.ico":
            where = f" ({location['url']}:{location['lineNumber']})" if location["url"] else ""
            console_errors.append(f"console error: {message.text}{where}")

    def on_web_error(error: WebError) -> None:
        console_errors.append(f"page error: {error.error}")

    # On the context rather than on one page, so pages opened later (popups) are covered too.
    browser_context.on("console", on_console)
    browser_context.on("weberror", on_web_error)
    yield browser_context
    if console_errors:
        pytest.fail(
            "The browser reported errors (a CSP violation shows up here too):\n  "
            + "\n  ".join(console_errors),
            pytrace=False,
        )


@pytest.fixture
def demo(live_server: Any) -> None:
    """The demo data of `manage.py seed_demo`, in the database the live server uses."""
    call_command("seed_demo", stdout=StringIO())


@pytest.fixture
def login(page: Page, live_server: Any) -> Callable[..., None]:
    """A function that logs `username` in through the login form and waits for the home page."""

    def _login(username: str, password: str = DEMO_PASSWORD) -> None:
        page.goto(f"{live_server.url}/login/")
        page.locator("#id_username").fill(username)
        page.locator("#id_password").fill(password)
        with page.expect_navigation(url=f"{live_server.url}/"):
            page.get_by_role("button", name="Log in").click()

    return _login

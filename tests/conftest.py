"""Suite-wide settings.

Under CI (CI=true) every optional extra is installed, so a skipped test would check nothing:
there a skip is reported as a failure.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if os.environ.get("CI", "").lower() in ("1", "true", "yes") and rep.skipped and call.when in ("setup", "call"):
        if item.get_closest_marker("manual") is None:
            rep.outcome = "failed"
            rep.longrepr = f"skipped under CI, where every extra is installed: {rep.longrepr}"


# ---------------------------------------------------------------- browser tests (Playwright + Debian chromium)
@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():    # a missing browser fails the browser tests: a skipped test checks nothing
        pytest.fail("Debian's chromium is not installed: apt-get install chromium chromium-driver "
                    "(make install-dev does it as root)", pytrace=False)
    from playwright import sync_api

    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@dataclass
class Opened:
    page: object
    requests: list[str] = field(default_factory=list)  # every request the page made
    blocked: list[str] = field(default_factory=list)   # non-file requests, aborted
    errors: list[str] = field(default_factory=list)    # console errors and uncaught exceptions
    dialogs: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        assert self.blocked == [], self.blocked
        assert all(u.startswith("file://") for u in self.requests), self.requests
        assert self.errors == [] and self.dialogs == []


@pytest.fixture
def open_file(browser):
    """Open a report file with the network blocked and every request, error and dialog recorded."""
    contexts = []

    def open_(path: Path, width: int = 1200) -> Opened:
        context = browser.new_context(viewport={"width": width, "height": 900}, offline=True)
        contexts.append(context)
        page = context.new_page()
        o = Opened(page)

        def route(r):
            if r.request.url.startswith("file://"):
                r.continue_()
            else:
                o.blocked.append(r.request.url)
                r.abort()

        context.route("**/*", route)
        page.on("request", lambda req: o.requests.append(req.url))
        page.on("console", lambda msg: msg.type == "error" and o.errors.append(msg.text))
        page.on("pageerror", lambda exc: o.errors.append(str(exc)))
        page.on("dialog", lambda d: (o.dialogs.append(d.message), d.dismiss()))
        page.goto(path.as_uri())
        page.wait_for_function("window.groklabReport !== undefined")
        return o

    yield open_
    for c in contexts:
        c.close()

"""Browser fixtures: Debian's chromium driven by Playwright, hubs as real processes, screenshots.

The tests here are plain (sync) functions: Playwright's sync API runs its own
loop, and one-shot Python clients run with ``asyncio.run`` on a worker thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect, sync_playwright

from clients.connection import Connection
from protocol.messages import Ack
from tests.helpers import ROOT, HubProcess, S, start_hub_process, test_token

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = ROOT / "artifacts" / "screenshots"
PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1600, "height": 900}
# No tile server is reachable here: the maps draw over the service-area outline.
HUB_ENV = {"DISPATCH_TILE_URL": ""}
PASSWORDS = {"ana": "ana-password-1", "u61": "u61-password-1", "u62": "u62-password-1", "rio": "rio-password-1"}
ACCOUNTS = [
    ("ana", "dispatcher", None),
    ("u61", "officer", "PO61"),
    ("u62", "officer", "PO62"),
    ("rio", "intake_311", None),
]

expect.set_options(timeout=15_000 * S)


def add_accounts(data_dir: Path, database_url: str = "") -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    for name, role, unit in ACCOUNTS:
        cmd = [sys.executable, "-m", "server.cli", "user", "add", name, "--role", role, "--data-dir", str(data_dir)]
        cmd += ["--database-url", database_url] if database_url else []
        cmd += ["--password", PASSWORDS[name]] + (["--unit", unit] if unit else [])
        subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True)


def browser_hub(data_dir: Path, env: dict[str, str] | None = None, **kwargs: Any) -> HubProcess:
    """A hub process with the test accounts, healthy."""
    add_accounts(data_dir)
    hub = start_hub_process(data_dir, env={**HUB_ENV, **(env or {})}, **kwargs)
    hub.wait_healthy(30 * S)
    return hub


def desk(hub_url: str, *commands: Any) -> list[Ack]:
    """Send commands as a dispatcher from a Python client (another dispatcher's console)."""

    async def run() -> list[Ack]:
        async with Connection(hub_url, token=test_token("desk-2")) as conn:
            return [await conn.command(c(conn.next_id()) if callable(c) else c) for c in commands]

    # Playwright's sync API keeps an event loop on this thread: the client runs on another.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result(timeout=60 * S)


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{re.sub(r'[^a-z0-9_-]+', '-', name.lower())}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


def sign_in(page: Page, http: str, user: str, lands_on: str, *, live: bool = True) -> None:
    """Sign in from the front door; ``live``: the page it lands on has a hub connection to wait for."""
    page.goto(f"{http}/")
    page.fill("#user", user)
    page.fill("#password", PASSWORDS[user])
    page.click("#signin-button")
    page.wait_for_url(f"**{lands_on}")
    if live:
        expect(page.locator("#connection")).to_have_attribute("data-state", "live")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Per module, not per session: Playwright's sync API holds an event loop on the main
    # thread while it is open, and the async tests that follow need the thread to themselves.
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


class Pages:
    """New pages in their own contexts (own cookies and storage), with page errors collected."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.contexts: list[BrowserContext] = []
        self.errors: list[str] = []

    def desktop(self) -> Page:
        return self._page(viewport=DESKTOP)

    def phone(self, lat: float = 53.5444, lon: float = -113.4897) -> Page:
        return self._page(
            viewport=PHONE,
            is_mobile=True,
            has_touch=True,
            geolocation={"latitude": lat, "longitude": lon, "accuracy": 8},
            permissions=["geolocation"],
        )

    def _page(self, **options: Any) -> Page:
        context = self.browser.new_context(**options)
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def pages(browser: Browser) -> Iterator[Pages]:
    opened = Pages(browser)
    yield opened
    opened.close()
    assert not opened.errors, f"script errors in the page: {opened.errors}"


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubProcess]:
    """A hub of its own (with its own embedded Valkey) for one test."""
    running = browser_hub(tmp_path / "hub")
    yield running
    running.stop()

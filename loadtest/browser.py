"""What the browser benchmarks share: Debian's Chromium and its flags, a second dispatcher's
console in Python, and signing in from the front door. Hubs come from ``loadtest.hubproc``."""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any

from playwright.sync_api import Page, expect

from clients.connection import Connection
from loadtest.hubproc import HubUnderTest

__all__ = ["CHROMIUM", "FLAGS", "console", "sign_in"]

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def console(hub: HubUnderTest, token: str, *commands: Any) -> None:
    """Send commands from a Python client; each is a function of the command id."""

    async def run() -> None:
        async with Connection(hub.url, token=token) as conn:
            for make in commands:
                await conn.command(make(conn.next_id()))

    # Playwright's sync API keeps an event loop on this thread: the client runs on another.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result(timeout=120)


def sign_in(page: Page, http: str, user: str, lands: str) -> None:
    """Sign in with an account ``HubUnderTest.token`` made (password "loadtest")."""
    page.goto(f"{http}/signin/")
    page.fill("#user", user)
    page.fill("#password", "loadtest")
    page.click("#signin-button")
    page.wait_for_url(f"**{lands}")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=30_000)

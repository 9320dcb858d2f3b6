"""/docs in headless Chromium: Swagger UI renders the API from the server's
own files under the page's CSP, with no request leaving the server's origin
and no CSP violation."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from authcore_testkit.server import RunningServer

CHROMIUM = Path("/usr/bin/chromium")
HAVE_CHROMIUM = CHROMIUM.exists()
IN_CI = bool(os.environ.get("CI"))
pytestmark = pytest.mark.skipif(
    not HAVE_CHROMIUM and not IN_CI,
    reason=f"{CHROMIUM} is missing (apt-get install chromium, or `make test` as root)")

if IN_CI:
    from playwright.async_api import async_playwright
else:
    async_playwright = pytest.importorskip("playwright.async_api").async_playwright


async def test_swagger_ui_renders_from_the_server_alone(server: RunningServer) -> None:
    if not HAVE_CHROMIUM:
        pytest.fail(f"CI is set but {CHROMIUM} is missing: install Debian's chromium package")
    origin = urlsplit(server.http_url).netloc
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM),
                                           args=["--no-sandbox", "--disable-gpu"])
        try:
            page = await browser.new_page()
            hosts: list[str] = []
            problems: list[str] = []
            page.on("request", lambda r: hosts.append(urlsplit(r.url).netloc))
            page.on("console", lambda m: problems.append(m.text)
                    if "Content Security Policy" in m.text else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            await page.goto(server.http_url + "/docs")
            # Swagger UI has fetched openapi.json and drawn the operations.
            await page.wait_for_selector('[data-path="/api/web/v2/authentication/users"]',
                                         state="attached", timeout=30_000)
        finally:
            await browser.close()
    assert problems == []
    assert hosts and set(hosts) == {origin}

"""The demo page as served (no browser needed): CSP, no inline code, and the
demo application id the server injects."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import httpx
from starlette.applications import Starlette

from authcore_testkit.server import RunningServer
from rest_bridge.pages import DEMO_FILES, PAGE_CSP, WEB_DIR, page_routes


class InlineCode(HTMLParser):
    """Collects what a `script-src 'self'` / `default-src 'self'` CSP would block."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {k for k, _ in attrs}
        if tag == "script":
            src = dict(attrs).get("src")
            if not src:
                self.problems.append("inline <script>")
            else:
                self.scripts.append(src)
            self._in_script = True
        if tag == "style":
            self.problems.append("inline <style>")
        self.problems.extend(f"{tag} {n}=" for n in names if n.startswith("on") or n == "style")

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False if tag == "script" else self._in_script

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append("script body")


def test_the_page_and_its_assets_are_served_with_csp(server: RunningServer) -> None:
    for item in DEMO_FILES:
        r = httpx.get(server.http_url + item.path)
        assert r.status_code == 200, item.path
        assert r.headers["content-type"] == item.media_type
        assert r.headers["content-security-policy"] == PAGE_CSP
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "access-control-allow-origin" not in r.headers
    assert "default-src 'self'; script-src 'self'" in PAGE_CSP
    page = httpx.get(server.http_url + "/demo/passkeys").text
    # A fresh server created the demo application and names it in the page.
    assert f'content="{server.demo_application_id}"' in page
    assert httpx.post(server.http_url + "/demo/passkeys").status_code == 405


def test_the_page_has_no_inline_code() -> None:
    parser = InlineCode()
    parser.feed((WEB_DIR / "passkeys.html").read_text())
    assert parser.problems == []
    assert parser.scripts == ["/demo/passkeys.js"]


async def test_the_injected_application_id_is_escaped() -> None:
    app = Starlette(routes=page_routes(demo_application_id='"><script>alert(1)</script>'))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        html = (await client.get("/demo/passkeys")).text
    assert "<script>alert" not in html
    assert 'content="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in html
    parser = InlineCode()
    parser.feed(html)
    assert parser.problems == []


def test_every_asset_exists() -> None:
    for item in DEMO_FILES:
        assert (Path(WEB_DIR) / item.file).is_file(), item.file

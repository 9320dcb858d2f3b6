"""A real OpenID provider for the OIDC login tests: the npm package
oidc-provider, run by oidc_provider/server.mjs on a free loopback port, and
a browser-like walk through its login."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx

from authcore_testkit.server import free_port

SCRIPT = Path(__file__).parent / "oidc_provider" / "server.mjs"
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class OidcProviderProcess:
    issuer: str
    process: subprocess.Popen[str]
    output: list[str]


@contextmanager
def run_oidc_provider(clients: list[dict[str, Any]]) -> Iterator[OidcProviderProcess]:
    """oidc-provider with these clients (oidc-provider client metadata)."""
    port = free_port()
    env = {**os.environ, "OIDC_PORT": str(port), "OIDC_CLIENTS": json.dumps(clients),
           # node_modules of the repository, wherever the test runs from.
           "NODE_PATH": str(ROOT / "node_modules")}
    proc = subprocess.Popen(["node", str(SCRIPT)], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    stream = proc.stdout
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(stream.readline, "")),
                              daemon=True)
    reader.start()
    issuer = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:
        while "oidc-provider listening" not in "".join(lines):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("oidc-provider did not start:\n" + "".join(lines))
            time.sleep(0.05)
        yield OidcProviderProcess(issuer=issuer, process=proc, output=lines)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join(timeout=5)


async def log_in_at_provider(browser: httpx.AsyncClient, authorization_url: str, *,
                             account: str, email: str | None = None,
                             email_verified: bool = False, stop_at: str) -> str:
    """Follow the provider's redirects from the authorization URL as a
    browser would (cookies kept in `browser`), submit its login form for
    `account`, and return the first redirect target that starts with
    `stop_at` (authcore's callback), without requesting it."""
    # A new browser each time: the provider's session cookie would otherwise
    # sign the previous account in again without asking.
    browser.cookies.clear()
    url = authorization_url
    for _ in range(12):
        if url.startswith(stop_at):
            return url
        resp = await browser.get(url)
        if resp.is_redirect:
            url = urljoin(url, resp.headers["location"])
            continue
        assert resp.status_code == 200, (resp.status_code, resp.text)
        page = resp.json()
        assert page["prompt"] == "login", page
        form = {"account": account, "email_verified": "true" if email_verified else "false"}
        if email:
            form["email"] = email
        posted = await browser.post(urljoin(url, f"/interaction/{page['uid']}/login"),
                                    data=form)
        assert posted.is_redirect, (posted.status_code, posted.text)
        url = urljoin(url, posted.headers["location"])
    raise AssertionError(f"no redirect to {stop_at} (last: {url})")

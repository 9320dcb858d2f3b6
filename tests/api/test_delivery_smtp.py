"""OTP codes by email through the outbox and the dispatcher, end to end:
`authcore serve --workers 2` (SQLite, and PostgreSQL + Redis when the suite
has them) mails through a real aiosmtpd (STARTTLS, AUTH), the test reads the
code from the delivered mail and completes the Entrust login. Each message
goes out exactly once; retries, permanent failures and expiry end in the
right status; the text is sealed at rest; nothing about delivery decides a
login's answer."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest

from authcore_testkit.api import Admin, RestApi
from authcore_testkit.delivery import outbox_until
from authcore_testkit.server import (
    RunningServer,
    database_rows,
    fresh_postgres_database,
    postgres_base_url,
    redis_base_url,
    redis_namespace,
    run_server,
)
from authcore_testkit.smtp_server import ReceivedMail, SmtpServer

BACKENDS = ["sqlite"] + (["postgres"] if postgres_base_url() and redis_base_url() else [])
SMTP_USER, SMTP_PASSWORD = "relay", "p@ss/w:rd%secret"
SENDER = "auth@example.com"
MAX_ATTEMPTS = 3
CODE = re.compile(r"\b(\d{6})\b")


@dataclass
class MailServer:
    server: RunningServer
    smtp: SmtpServer
    database_url: str | None


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer(auth=(SMTP_USER, SMTP_PASSWORD), tls="starttls",
                    require_starttls=True) as server:
        yield server


@pytest.fixture(scope="module", params=BACKENDS)
def mail(request: pytest.FixtureRequest, smtp: SmtpServer) -> Iterator[MailServer]:
    assert smtp.cert_path is not None
    env = {
        "AUTHCORE_SMTP_URL": smtp.url,
        "AUTHCORE_SMTP_FROM": f"Authcore <{SENDER}>",
        # The test server's self-signed certificate is the only trusted one.
        "SSL_CERT_FILE": str(smtp.cert_path),
        "AUTHCORE_DELIVERY_POLL_SECONDS": "0.2",
        # Retries 1-2 s apart: quick, yet later than a 1 s challenge lives.
        "AUTHCORE_DELIVERY_RETRY_SECONDS": "2",
        "AUTHCORE_DELIVERY_RETRY_MAX_SECONDS": "2",
        "AUTHCORE_DELIVERY_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
    }
    with ExitStack() as stack:
        url = None
        if request.param == "postgres":
            url = stack.enter_context(fresh_postgres_database())
            env.update(stack.enter_context(redis_namespace()))
        server = stack.enter_context(run_server(backend=request.param, database_url=url,
                                                env=env, workers=2))
        yield MailServer(server, smtp, url)


@pytest.fixture
async def admin(mail: MailServer) -> Any:
    client = Admin(mail.server)
    yield client
    await client.close()


@pytest.fixture
async def api(mail: MailServer) -> Any:
    client = RestApi(mail.server)
    yield client
    await client.close()


def address() -> str:
    return f"otp-{uuid.uuid4().hex[:12]}@example.com"


async def mails_to(smtp: SmtpServer, to: str, count: int = 1,
                   timeout: float = 15.0) -> list[ReceivedMail]:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while True:
        got = [m for m in smtp.messages if to in m.rcpt_tos]
        if len(got) >= count or time.monotonic() > deadline:
            return got
        await asyncio.sleep(0.05)


async def otp_challenge(api: RestApi, app_id: str, user_id: str) -> str:
    ch = await api.challenge("OTP", {"applicationId": app_id, "userId": user_id,
                                     "otpDeliveryType": "EMAIL"})
    # What the API says about delivery is what it always said: a code is on
    # its way by EMAIL, whatever the SMTP server later answers.
    assert ch.status == 200, ch
    assert ch.body["otpdeliveryType"] == "EMAIL"
    return str(ch.body["token"])


def code_of(mail: ReceivedMail) -> str:
    assert mail.text is not None and mail.html is not None
    found = CODE.search(mail.text)
    assert found, mail.text
    assert found.group(1) in mail.html
    return found.group(1)


# -- delivered, once -----------------------------------------------------------

async def test_entrust_otp_login_by_email_delivers_each_code_once(
        mail: MailServer, admin: Admin, api: RestApi) -> None:
    app_id = mail.server.demo_application_id
    users = [address() for _ in range(6)]
    for user in users:
        await admin.user(user, email=user)
    tokens = await asyncio.gather(*(otp_challenge(api, app_id, u) for u in users))

    for user, token in zip(users, tokens, strict=True):
        (got,) = await mails_to(mail.smtp, user)
        assert got.mail_from == SENDER and got.login == SMTP_USER and got.tls
        assert got.subject == "Your Demo application sign-in code"
        assert "Demo application" in (got.text or "")
        done = await api.complete("OTP", {"response": code_of(got)}, token)
        assert done.status == 200 and done.body["authenticationCompleted"] is True

    # Two workers poll the same outbox; give them several rounds to send
    # anything twice.
    await asyncio.sleep(1.0)
    for user in users:
        assert len([m for m in mail.smtp.messages if user in m.rcpt_tos]) == 1
        (row,) = await admin.outbox(user)
        assert row["status"] == "sent" and row["attempts"] == 1 and row["kind"] == "otp"
        assert row["medium"] == "EMAIL" and row["address"] == user
        assert row["applicationId"] == app_id and row["userId"] == user
        assert "text" not in row and "lastError" not in row
        assert row["sentAt"] and row["expiresAt"] and isinstance(row["id"], int)


async def test_the_application_is_named_and_escaped(mail: MailServer, admin: Admin,
                                                    api: RestApi) -> None:
    app = await admin.req("POST", "/api/admin/v1/applications", {"name": "Acme <b>Bank</b>"})
    user = address()
    await admin.user(user, email=user)
    token = await otp_challenge(api, app["applicationId"], user)
    (got,) = await mails_to(mail.smtp, user)
    assert got.subject == "Your Acme <b>Bank</b> sign-in code"
    assert "Acme <b>Bank</b>" in (got.text or "")
    assert "Acme &lt;b&gt;Bank&lt;/b&gt;" in (got.html or "")
    assert "<b>Bank" not in (got.html or "")
    done = await api.complete("OTP", {"response": code_of(got)}, token)
    assert done.status == 200


async def test_magic_link_login_by_email(mail: MailServer, admin: Admin, api: RestApi) -> None:
    """MAGICLINK: the link arrives by mail (text and HTML), its page answers,
    the polled complete signs in."""
    app = await admin.req("POST", "/api/admin/v1/applications", {
        "name": "Acme", "authenticators": ["MAGICLINK"],
        "webauthn": {"origins": ["https://rp.example"]},
        "magicLink": {"linkUrl": "https://rp.example/magic"}})
    user = address()
    await admin.user(user, email=user)
    ch = await api.challenge("MAGICLINK", {"applicationId": app["applicationId"],
                                           "userId": user})
    assert ch.status == 200 and ch.body["magicLinkType"] == "AUTHENTICATION", ch
    (got,) = await mails_to(mail.smtp, user)
    assert got.subject == "Your sign-in link for Acme"
    found = re.search(r"https://rp\.example/magic#magicLinkToken=([A-Za-z0-9_-]{43})",
                      got.text or "")
    assert found, got.text
    assert found.group(0) in (got.html or "") and "5 minutes" in (got.text or "")
    poll = await api.complete("MAGICLINK", {}, ch.body["token"])
    assert poll.status == 200 and poll.body["status"] == "NO_RESPONSE"
    r = await api.http.post("/api/web/v1/magiclink/response",
                            json={"magicLinkToken": found.group(1), "response": "CONFIRM"})
    assert r.status_code == 200, r.text
    done = await api.complete("MAGICLINK", {}, ch.body["token"])
    assert done.status == 200 and done.body["authenticationCompleted"] is True
    (row,) = await admin.outbox(user)
    assert row["kind"] == "magic_link" and row["status"] == "sent" and "text" not in row


# -- retries, failures, expiry ---------------------------------------------------

async def test_a_refusal_for_now_is_retried_until_accepted(
        mail: MailServer, admin: Admin, api: RestApi) -> None:
    user = address()
    await admin.user(user, email=user)
    mail.smtp.reply_next(2, "451 4.3.0 try again later")
    token = await otp_challenge(api, mail.server.demo_application_id, user)
    (got,) = await mails_to(mail.smtp, user, timeout=20)
    row = await outbox_until(admin, user, "sent")
    assert row["attempts"] == 3 and "lastError" not in row
    done = await api.complete("OTP", {"response": code_of(got)}, token)
    assert done.status == 200


async def test_a_permanent_refusal_fails_with_the_reason(
        mail: MailServer, admin: Admin, api: RestApi) -> None:
    user = address()
    await admin.user(user, email=user)
    mail.smtp.reply_next(1, "550 5.1.1 no such mailbox", at="RCPT")
    await otp_challenge(api, mail.server.demo_application_id, user)
    row = await outbox_until(admin, user, "failed")
    assert row["attempts"] == 1 and "text" not in row
    assert "550" in row["lastError"] and "no such mailbox" in row["lastError"]
    assert SMTP_PASSWORD not in row["lastError"]
    assert await mails_to(mail.smtp, user, timeout=0) == []
    failed = await admin.req("GET", "/api/admin/v1/outbox", params={"status": "failed"})
    assert row["id"] in [m["id"] for m in failed["messages"]]


async def test_retries_give_up_after_max_attempts(mail: MailServer, admin: Admin,
                                                  api: RestApi) -> None:
    user = address()
    await admin.user(user, email=user)
    mail.smtp.reply_next(MAX_ATTEMPTS, "452 4.3.1 mailbox busy")
    await otp_challenge(api, mail.server.demo_application_id, user)
    row = await outbox_until(admin, user, "failed", timeout=20)
    assert row["attempts"] == MAX_ATTEMPTS
    assert "452" in row["lastError"] and f"after {MAX_ATTEMPTS} attempts" in row["lastError"]
    assert await mails_to(mail.smtp, user, timeout=0) == []


async def test_a_message_whose_challenge_expired_is_not_sent(
        mail: MailServer, admin: Admin, api: RestApi) -> None:
    app = await admin.req("POST", "/api/admin/v1/applications",
                          {"name": "short-lived", "tokenLifetimes": {"challengeSeconds": 1}})
    user = address()
    await admin.user(user, email=user)
    mail.smtp.reply_next(1, "451 4.3.0 try again later")
    await otp_challenge(api, app["applicationId"], user)
    # The retry comes 1-2 s later, after the 1 s challenge expired.
    row = await outbox_until(admin, user, "expired", timeout=20)
    assert row["attempts"] == 1 and "451" in row["lastError"] and "text" not in row
    await asyncio.sleep(0.5)
    assert await mails_to(mail.smtp, user, timeout=0) == []


# -- what is stored, shown and printed --------------------------------------------

async def _rows(mail: MailServer, user_id: str) -> list[dict[str, Any]]:
    return await database_rows(
        mail.server, mail.database_url,
        "SELECT o.* FROM outbox o JOIN users u ON u.pk = o.user_pk "
        "WHERE u.user_id = {} ORDER BY o.id", user_id)


async def test_texts_are_sealed_at_rest_and_dropped_once_sent(
        mail: MailServer, admin: Admin, api: RestApi) -> None:
    user = address()
    await admin.user(user, email=user, phone="+15550001234")
    app_id = mail.server.demo_application_id
    # No SMS channel here: the SMS is held, readable through the admin API.
    ch = await api.challenge("OTP", {"applicationId": app_id, "userId": user,
                                     "otpDeliveryType": "SMS"})
    assert ch.status == 200 and ch.body["otpdeliveryType"] == "SMS"
    (held,) = await admin.outbox(user)
    assert held["status"] == "held" and held["medium"] == "SMS"
    sms_code = CODE.search(held["text"]).group(1)  # type: ignore[union-attr]
    assert held["text"] == f"Your verification code is {sms_code}. It expires in 5 minutes."
    await otp_challenge(api, app_id, user)
    email_code = code_of((await mails_to(mail.smtp, user))[0])
    await outbox_until(admin, user, "sent")

    sms_row, email_row = await _rows(mail, user)
    assert "text" not in sms_row  # the plaintext column is gone
    sealed = bytes(sms_row["sealed_text"])
    assert len(sealed) > 28  # version, nonce, tag and a ciphertext
    assert sms_code.encode() not in sealed and b"verification" not in sealed
    assert sms_row["status"] == "held" and sms_row["kind"] == "otp"
    assert email_row["status"] == "sent" and email_row["sealed_text"] is None
    assert email_code not in repr(email_row)


async def test_listing_filters_and_refusals(mail: MailServer, admin: Admin,
                                           api: RestApi) -> None:
    user = address()
    await admin.user(user, email=user, phone="+15550005678")
    ch = await api.challenge("OTP", {"applicationId": mail.server.demo_application_id,
                                     "userId": user, "otpDeliveryType": "VOICE"})
    assert ch.status == 200
    held = await admin.req("GET", "/api/admin/v1/outbox",
                           params={"userId": user, "status": "held"})
    assert [m["medium"] for m in held["messages"]] == ["VOICE"]
    assert (await admin.req("GET", "/api/admin/v1/outbox",
                            params={"userId": user, "status": "sent"}))["messages"] == []
    everyone = await admin.req("GET", "/api/admin/v1/outbox")
    assert len({m["userId"] for m in everyone["messages"]}) > 1

    r = await admin.http.get("/api/admin/v1/outbox", params={"status": "lost"})
    assert r.status_code == 400, r.text
    assert r.json()["errorCode"] == "invalid_outbox_status"
    r = await admin.http.get("/api/admin/v1/outbox", params={"userId": "nobody-" + user})
    assert r.status_code == 404 and r.json()["errorCode"] == "user_not_found"


async def test_the_cli_lists_the_outbox_without_text(mail: MailServer, admin: Admin,
                                                     api: RestApi) -> None:
    user = address()
    await admin.user(user, email=user, phone="+15550009999")
    ch = await api.challenge("OTP", {"applicationId": mail.server.demo_application_id,
                                     "userId": user, "otpDeliveryType": "SMS"})
    assert ch.status == 200
    (held,) = await admin.outbox(user)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHCORE_")}
    env["AUTHCORE_DATA_DIR"] = str(mail.server.data_dir)
    if mail.database_url:
        env["AUTHCORE_DATABASE_URL"] = mail.database_url
    out = subprocess.run(  # noqa: ASYNC221 - a short CLI run
        [sys.executable, "-m", "authcore.cli", "outbox", "--user", user, "--status", "held"],
        env=env, capture_output=True, text=True, timeout=60, check=True).stdout
    header, line = out.strip().splitlines()
    assert header.split()[:3] == ["ID", "QUEUED", "STATUS"]
    assert line.split()[0] == str(held["id"]) and " held " in line and user in line
    assert CODE.search(held["text"]).group(1) not in out  # type: ignore[union-attr]


def test_the_startup_line_says_where_messages_go(mail: MailServer) -> None:
    output = "".join(mail.server.output)
    lines = [line for line in output.splitlines() if line.startswith("delivery:")]
    assert lines == [f"delivery: EMAIL via smtp://127.0.0.1:{mail.smtp.port} (starttls); "
                     "SMS, VOICE, PUSH held in the outbox (no channel configured)"]
    assert SMTP_PASSWORD not in output and "p%40ss" not in output

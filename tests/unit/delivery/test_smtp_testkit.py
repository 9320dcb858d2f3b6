"""The test SMTP server (authcore_testkit/smtp_server.py) does what the
delivery tests rely on: it receives real mail, and refuses when told to."""

from __future__ import annotations

import time
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import pytest

from authcore_testkit.smtp_server import SmtpServer


def _mail(code: str = "314159") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Demo <auth@example.com>"
    message["To"] = "ada@example.org"
    message["Subject"] = "Your Demo sign-in code"
    message.set_content(f"Your code is {code}.")
    message.add_alternative(f"<p>Your code is <b>{code}</b>.</p>", subtype="html")
    return message


async def _send(server: SmtpServer, message: EmailMessage | None = None,
                **kwargs: Any) -> Any:
    return await aiosmtplib.send(message or _mail(), hostname=server.host, port=server.port,
                                 timeout=5, **kwargs)


async def test_receives_and_parses_a_message() -> None:
    with SmtpServer() as server:
        assert server.url == f"smtp://127.0.0.1:{server.port}"
        await _send(server, recipients=["ada@example.org", "bcc@example.org"])
        (mail,) = await server.wait_for_async(1, timeout=5)
    assert mail.mail_from == "auth@example.com"
    assert mail.rcpt_tos == ("ada@example.org", "bcc@example.org")
    assert mail.subject == "Your Demo sign-in code"
    assert mail.text == "Your code is 314159.\n"
    assert mail.html is not None and "<b>314159</b>" in mail.html
    assert mail.login is None and mail.tls is False
    assert b"314159" in mail.raw


async def test_text_only_message_has_no_html() -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.com", "b@example.com", "x"
    message.set_content("plain only")
    with SmtpServer() as server:
        await _send(server, message)
        (mail,) = server.wait_for(1, timeout=5)
    assert mail.text == "plain only\n"
    assert mail.html is None


async def test_451_then_accepts() -> None:
    with SmtpServer() as server:
        server.reply_next(2, "451 4.3.0 try later")
        for _ in range(2):
            with pytest.raises(aiosmtplib.SMTPDataError) as caught:
                await _send(server)
            assert caught.value.code == 451
            assert "try later" in caught.value.message
        assert server.messages == []
        await _send(server)
        assert len(server.wait_for(1, timeout=5)) == 1
        assert server.attempts == 3


async def test_550_at_rcpt_refuses_the_recipient() -> None:
    with SmtpServer() as server:
        server.reply_next(1, "550 5.1.1 no such user", at="RCPT")
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as caught:
            await _send(server)
        (refusal,) = caught.value.recipients
        assert refusal.code == 550
        assert server.messages == []


def test_reply_must_be_a_refusal() -> None:
    with SmtpServer() as server, pytest.raises(ValueError):
        server.reply_next(1, "250 fine")


async def test_auth_required_and_checked() -> None:
    with SmtpServer(auth=("relay", "p@ss word")) as server:
        assert server.url == f"smtp://relay:p%40ss%20word@127.0.0.1:{server.port}"
        with pytest.raises(aiosmtplib.SMTPSenderRefused):
            await _send(server)  # no AUTH: MAIL is refused
        with pytest.raises(aiosmtplib.SMTPAuthenticationError):
            await _send(server, username="relay", password="wrong")
        # aiosmtplib tries each offered mechanism (PLAIN, LOGIN) in turn.
        assert server.auth_failures >= 1
        assert server.messages == []
        await _send(server, username="relay", password="p@ss word")  # AUTH PLAIN
        async with aiosmtplib.SMTP(hostname=server.host, port=server.port, timeout=5) as smtp:
            await smtp.auth_login("relay", "p@ss word")
            await smtp.send_message(_mail("271828"))
        first, second = server.wait_for(2, timeout=5)
    assert first.login == second.login == "relay"
    assert second.text == "Your code is 271828.\n"


async def test_required_starttls_with_the_server_certificate() -> None:
    with SmtpServer(auth=("relay", "pw"), tls="starttls", require_starttls=True) as server:
        assert server.url.endswith("?starttls=true")
        assert server.cert_path is not None and server.cert_path.exists()
        with pytest.raises(aiosmtplib.SMTPException):
            await _send(server, start_tls=False, username="relay", password="pw")
        await _send(server, start_tls=True, tls_context=server.client_ssl_context(),
                    username="relay", password="pw")
        (mail,) = server.wait_for(1, timeout=5)
    assert mail.tls is True and mail.login == "relay"


async def test_implicit_tls() -> None:
    with SmtpServer(tls="implicit") as server:
        assert server.url.startswith("smtps://")
        await _send(server, use_tls=True, tls_context=server.client_ssl_context())
        (mail,) = server.wait_for(1, timeout=5)
    assert mail.tls is True


async def test_stall_outlasts_a_client_timeout() -> None:
    with SmtpServer() as server:
        server.stall_next(1, 2.0)
        started = time.monotonic()
        with pytest.raises(aiosmtplib.SMTPTimeoutError):
            await aiosmtplib.send(_mail(), hostname=server.host, port=server.port,
                                  timeout=0.5)
        assert time.monotonic() - started < 1.5
        assert server.messages == []


def test_wait_for_times_out() -> None:
    with SmtpServer() as server:
        started = time.monotonic()
        with pytest.raises(TimeoutError, match="0 of 1"):
            server.wait_for(1, timeout=0.2)
        assert time.monotonic() - started < 1

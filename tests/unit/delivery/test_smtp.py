"""The SMTP channel (delivery/smtp.py): AUTHCORE_SMTP_URL parsing, and real
deliveries to aiosmtpd (tests/authcore_testkit/smtp_server.py) with each of
its answers sorted into delivered, retry later, or give up."""

from __future__ import annotations

import socket

import pytest

from authcore.delivery.channels import DeliveryError, OutgoingMessage
from authcore.delivery.smtp import SmtpChannel, parse_smtp_url
from authcore_testkit.smtp_server import SmtpServer

USER, PASSWORD = "relay@example.com", "p@ss:w/rd"


def message(**changes: object) -> OutgoingMessage:
    fields: dict[str, object] = {
        "id": 7, "medium": "EMAIL", "kind": "otp", "address": "ada@example.com",
        "text": "Your verification code is 424242.", "values": {"code": "424242",
                                                                "minutes": "5"},
        "application_id": "app1", "application_name": "Acme", "created_at": 0.0,
        "expires_at": None, **changes}
    return OutgoingMessage(**fields)  # type: ignore[arg-type]


# -- the URL -------------------------------------------------------------------

@pytest.mark.parametrize(("url", "host", "port", "tls"), [
    ("smtp://mail.example:587?starttls=true", "mail.example", 587, "starttls"),
    ("smtp://mail.example?starttls=true", "mail.example", 587, "starttls"),
    ("smtp://mail.example?starttls=false", "mail.example", 25, "none"),
    ("smtp://mail.example", "mail.example", 25, "opportunistic"),
    ("smtps://mail.example", "mail.example", 465, "implicit"),
    ("smtps://[::1]:2465", "::1", 2465, "implicit"),
])
def test_urls(url: str, host: str, port: int, tls: str) -> None:
    server = parse_smtp_url(url)
    assert (server.host, server.port, server.tls) == (host, port, tls)


def test_credentials_are_url_decoded_and_never_described() -> None:
    server = parse_smtp_url("smtp://relay%40example.com:p%40ss%3Aw%2Frd@mx.example:587"
                            "?starttls=true")
    assert (server.username, server.password) == (USER, PASSWORD)
    assert server.describe() == "smtp://mx.example:587 (starttls)"
    assert PASSWORD not in repr(server)


@pytest.mark.parametrize(("url", "problem"), [
    ("http://mx.example", "smtp:// or smtps://"),
    ("smtp://", "no host"),
    ("smtp://mx.example?tls=1", "unknown parameter"),
    ("smtp://mx.example?starttls=maybe", "true or false"),
    ("smtps://mx.example?starttls=true", "TLS from the start"),
    ("smtp://mx.example:99999", "invalid port"),
])
def test_bad_urls_say_why_without_the_password(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem) as caught:
        parse_smtp_url(url.replace("://", "://u:secretpw@", 1) if "@" not in url else url)
    assert "secretpw" not in str(caught.value)


# -- deliveries --------------------------------------------------------------------

async def test_a_multipart_mail_over_starttls_with_auth(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    with SmtpServer(auth=(USER, PASSWORD), tls="starttls", require_starttls=True) as smtp:
        monkeypatch.setenv("SSL_CERT_FILE", str(smtp.cert_path))
        channel = SmtpChannel(url=smtp.url, sender="Acme Login <login@acme.example>")
        assert channel.describe() == f"smtp://127.0.0.1:{smtp.port} (starttls)"
        await channel.send(message())
        (mail,) = await smtp.wait_for_async(1)
    assert mail.login == USER and mail.tls
    assert mail.mail_from == "login@acme.example" and mail.rcpt_tos == ("ada@example.com",)
    assert mail.message["From"] == "Acme Login <login@acme.example>"
    assert mail.message["To"] == "ada@example.com"
    assert mail.message["Auto-Submitted"] == "auto-generated"
    assert mail.message["Message-ID"].endswith("@acme.example>")
    assert mail.subject == "Your Acme sign-in code"
    assert "424242" in (mail.text or "") and "424242" in (mail.html or "")


async def test_implicit_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    with SmtpServer(tls="implicit") as smtp:
        monkeypatch.setenv("SSL_CERT_FILE", str(smtp.cert_path))
        await SmtpChannel(url=smtp.url, sender="a@example.com").send(message())
        (mail,) = await smtp.wait_for_async(1)
    assert mail.tls


async def test_an_untrusted_certificate_is_not_accepted() -> None:
    with SmtpServer(tls="implicit") as smtp:
        with pytest.raises(DeliveryError) as caught:
            await SmtpChannel(url=smtp.url, sender="a@example.com").send(message())
        assert smtp.messages == []
    assert "unreachable" in str(caught.value)


@pytest.mark.parametrize(("reply", "at", "retryable"), [
    ("451 4.3.0 try again later", "DATA", True),
    ("452 4.2.2 mailbox full", "RCPT", True),
    ("554 5.7.1 message refused", "DATA", False),
    ("550 5.1.1 no such user", "RCPT", False),
    ("421 4.7.0 too busy", "MAIL", True),
])
async def test_replies_sorted_into_retry_or_give_up(reply: str, at: str,
                                                   retryable: bool) -> None:
    with SmtpServer() as smtp:
        smtp.reply_next(1, reply, at=at)  # type: ignore[arg-type]
        channel = SmtpChannel(url=smtp.url + "?starttls=false", sender="a@example.com")
        with pytest.raises(DeliveryError) as caught:
            await channel.send(message())
        assert caught.value.retryable is retryable
        assert reply.split()[0] in str(caught.value)
        assert f"smtp://127.0.0.1:{smtp.port}" in str(caught.value)
        await channel.send(message())  # the next one is accepted
        assert len(smtp.messages) == 1


async def test_wrong_credentials_are_not_retried() -> None:
    with SmtpServer(auth=(USER, PASSWORD)) as smtp:
        url = smtp.url.replace("p%40ss", "wrong")
        with pytest.raises(DeliveryError) as caught:
            await SmtpChannel(url=url, sender="a@example.com").send(message())
    assert not caught.value.retryable and "535" in str(caught.value)
    assert "wrong" not in str(caught.value) and USER not in str(caught.value)


async def test_a_refused_connection_and_a_timeout_are_retried() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DeliveryError) as caught:
        await SmtpChannel(url=f"smtp://127.0.0.1:{port}", sender="a@example.com"
                          ).send(message())
    assert caught.value.retryable and "unreachable" in str(caught.value)

    with SmtpServer() as smtp:
        smtp.stall_next(1, 3.0)
        channel = SmtpChannel(url=smtp.url, sender="a@example.com", timeout=0.5)
        with pytest.raises(DeliveryError) as caught:
            await channel.send(message())
    assert caught.value.retryable and "timed out after 0.5 s" in str(caught.value)


async def test_a_message_without_its_values_fails_for_good() -> None:
    with SmtpServer() as smtp:
        channel = SmtpChannel(url=smtp.url, sender="a@example.com")
        with pytest.raises(DeliveryError) as caught:
            await channel.send(message(values={}))
        assert smtp.attempts == 0
    assert not caught.value.retryable and "$code" in str(caught.value)

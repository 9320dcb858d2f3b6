"""EMAIL delivery over SMTP (aiosmtplib).

AUTHCORE_SMTP_URL names the server:

    smtp://user:pass@mail.example:587?starttls=true   STARTTLS required
    smtp://mail.example:25?starttls=false             no TLS (a local relay)
    smtp://mail.example                               STARTTLS when the server offers it
    smtps://user:pass@mail.example:465                TLS from the first byte

User and password are URL-decoded (`%40` for `@`). Certificates are
verified against the system's trust store (SSL_CERT_FILE applies). Each
message is one connection: plain-text and HTML bodies (delivery/render.py),
From AUTHCORE_SMTP_FROM.

Outcomes, as the dispatcher needs them: the server's 2xx is delivered; a 4xx
reply, a refused or dropped connection or a timeout can be tried again; a
5xx reply (a rejected recipient, refused credentials) cannot. Error messages
name the server (never the credentials) and the reply's code and first words.
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from authcore.delivery.channels import DeliveryError, OutgoingMessage
from authcore.delivery.render import TemplateError, Templates

TlsMode = Literal["starttls", "implicit", "opportunistic", "none"]

_DEFAULT_PORTS = {"starttls": 587, "implicit": 465, "opportunistic": 25, "none": 25}
_TLS_WORDS = {"starttls": "starttls", "implicit": "implicit TLS",
              "opportunistic": "STARTTLS when offered", "none": "no TLS"}
# How much of a server's reply goes into last_error.
_REPLY_CHARS = 120


@dataclass(frozen=True, slots=True)
class SmtpServer:
    host: str
    port: int
    tls: TlsMode
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def describe(self) -> str:
        scheme = "smtps" if self.tls == "implicit" else "smtp"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port} ({_TLS_WORDS[self.tls]})"


def _flag(query: dict[str, list[str]], name: str) -> bool | None:
    values = query.pop(name, None)
    if not values:
        return None
    word = values[-1].strip().lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be true or false, got {values[-1]!r}")


def parse_smtp_url(url: str) -> SmtpServer:
    """ValueError (naming no credential) for anything but an smtp(s) URL
    with a host."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError(f"must start with smtp:// or smtps://, not {parts.scheme or '?'}://")
    if not parts.hostname:
        raise ValueError("has no host")
    query = parse_qs(parts.query, keep_blank_values=True)
    starttls = _flag(query, "starttls")
    if query:
        raise ValueError(f"unknown parameter(s) {', '.join(sorted(query))} "
                         "(only starttls=true|false)")
    tls: TlsMode
    if parts.scheme == "smtps":
        if starttls:
            raise ValueError("smtps:// is TLS from the start; starttls=true is for smtp://")
        tls = "implicit"
    else:
        modes: dict[bool | None, TlsMode] = {True: "starttls", False: "none",
                                             None: "opportunistic"}
        tls = modes[starttls]
    try:
        port = parts.port or _DEFAULT_PORTS[tls]
    except ValueError:
        raise ValueError("has an invalid port") from None
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is not None and username is None:
        raise ValueError("has a password but no user")
    return SmtpServer(host=parts.hostname, port=port, tls=tls, username=username,
                      password=password)


def _reply(code: int, message: str) -> str:
    words = " ".join(str(message).split())[:_REPLY_CHARS]
    return f"{code} {words}".strip()


class SmtpChannel:
    """A `Channel` for EMAIL."""

    def __init__(self, *, url: str, sender: str, timeout: float = 10.0,
                 templates: Templates | None = None) -> None:
        self.server = parse_smtp_url(url)
        if "@" not in sender:
            raise ValueError("AUTHCORE_SMTP_FROM must be an email address")
        self._sender = sender
        self._sender_address = email.utils.parseaddr(sender)[1] or sender
        self._timeout = timeout
        self._templates = templates or Templates()

    def describe(self) -> str:
        return self.server.describe()

    async def close(self) -> None:
        return None

    def build(self, message: OutgoingMessage) -> EmailMessage:
        try:
            rendered = self._templates.render(message.kind, application=message.application_name,
                                              values=message.values)
        except TemplateError as exc:
            raise DeliveryError(str(exc), retryable=False) from None
        mail = EmailMessage()
        mail["From"] = self._sender
        mail["To"] = message.address
        mail["Subject"] = rendered.subject
        mail["Date"] = email.utils.formatdate(localtime=False, usegmt=True)
        domain = self._sender_address.rpartition("@")[2] or None
        mail["Message-ID"] = email.utils.make_msgid(domain=domain)
        # RFC 3834: mail from a machine, so no vacation auto-replies.
        mail["Auto-Submitted"] = "auto-generated"
        mail.set_content(rendered.text)
        mail.add_alternative(rendered.html, subtype="html")
        return mail

    async def send(self, message: OutgoingMessage) -> None:
        mail = self.build(message)
        server = self.server
        where = server.describe().split(" ", 1)[0]
        try:
            await aiosmtplib.send(
                mail, sender=self._sender_address, recipients=[message.address],
                hostname=server.host, port=server.port,
                username=server.username, password=server.password,
                use_tls=server.tls == "implicit",
                start_tls={"starttls": True, "none": False, "implicit": False,
                           "opportunistic": None}[server.tls],
                timeout=self._timeout)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            first = exc.recipients[0] if exc.recipients else None
            detail = _reply(first.code, first.message) if first is not None else "refused"
            raise DeliveryError(f"{where} refused the recipient: {detail}",
                                retryable=bool(codes) and all(400 <= c < 500 for c in codes)
                                ) from None
        except aiosmtplib.SMTPResponseException as exc:
            # 4xx: try later (greylisting, a full queue); 5xx: it won't change.
            raise DeliveryError(f"{where} answered {_reply(exc.code, exc.message)}",
                                retryable=400 <= exc.code < 500) from None
        except aiosmtplib.SMTPTimeoutError:
            raise DeliveryError(f"{where} timed out after {self._timeout:g} s",
                                retryable=True) from None
        except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected, OSError) as exc:
            raise DeliveryError(f"{where} unreachable ({type(exc).__name__})",
                                retryable=True) from None
        except aiosmtplib.SMTPNotSupported as exc:
            # e.g. starttls=true and a server that offers no STARTTLS.
            raise DeliveryError(f"{where}: {' '.join(str(exc).split())[:_REPLY_CHARS]}",
                                retryable=False) from None
        except aiosmtplib.SMTPException as exc:
            raise DeliveryError(f"{where}: {type(exc).__name__}", retryable=True) from None

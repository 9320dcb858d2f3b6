"""A real SMTP server (aiosmtpd) on a free loopback port, for delivery tests.

It runs on its own event loop in a background thread (aiosmtpd's
`Controller`), so it receives mail from an `authcore serve` process as well as
from code running on the test's own loop. Each accepted message is kept as a
`ReceivedMail` (envelope and the parsed `email.message.EmailMessage`).

    with SmtpServer(auth=("relay", "s3cret"), tls="starttls") as smtp:
        env = {"AUTHCORE_SMTP_URL": smtp.url, "AUTHCORE_SMTP_FROM": "auth@example.com"}
        ...
        (mail,) = smtp.wait_for(1, timeout=10)
        assert "123456" in mail.text

Failure paths: `reply_next(2, "451 4.3.0 try later")` answers the next two
deliveries with that reply instead of accepting them (`at="RCPT"` refuses the
recipient instead of the data, as a real server does for "550 5.1.1 no such
user"); `stall_next(1, 5.0)` holds the next delivery's DATA reply for five
seconds (then answers 451) so a client timeout is testable. Refused deliveries
are counted in `attempts`, never in `messages`.

TLS uses a throw-away self-signed certificate for `localhost` and 127.0.0.1,
written to `cert_path` so a separate process can be told to trust it.
"""

from __future__ import annotations

import asyncio
import datetime
import email
import email.policy
import ipaddress
import logging
import socket
import ssl
import tempfile
import threading
import time
import warnings
from collections.abc import Awaitable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any, Literal
from urllib.parse import quote

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

Stage = Literal["MAIL", "RCPT", "DATA"]

# aiosmtpd's own logger says "auth_required but not auth_require_tls" and
# "Session.login_data is deprecated" (its own code sets it) per connection.
logging.getLogger("mail.log").setLevel(logging.ERROR)


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    raw: bytes
    # The login the client authenticated as (None without AUTH), and whether
    # the session was encrypted (STARTTLS or implicit TLS).
    login: str | None
    tls: bool

    @property
    def subject(self) -> str:
        return str(self.message.get("Subject", ""))

    @property
    def text(self) -> str | None:
        return _part(self.message, "plain")

    @property
    def html(self) -> str | None:
        return _part(self.message, "html")


def _part(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_subtype() != subtype:
        return None
    content = part.get_content()
    return content if isinstance(content, str) else None


@dataclass
class _Override:
    count: int
    reply: str
    at: Stage
    stall: float = 0.0


class _Handler:
    """aiosmtpd handler hooks; they run on the server's thread."""

    def __init__(self, owner: SmtpServer) -> None:
        self._owner = owner

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, mail_options: list[str]) -> str:
        refusal = self._owner._take("MAIL")
        if refusal is not None:
            return await refusal
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        refusal = self._owner._take("RCPT")
        if refusal is not None:
            return await refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        refusal = self._owner._take("DATA")
        if refusal is not None:
            return await refusal
        raw = envelope.original_content or b""
        # SMTP carries CRLF; parsed with LF the parts read as ordinary text.
        message = email.message_from_bytes(raw.replace(b"\r\n", b"\n"),
                                           policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        login = None
        if session.authenticated and isinstance(session.auth_data, LoginPassword):
            login = session.auth_data.login.decode()
        self._owner._record(ReceivedMail(
            mail_from=envelope.mail_from or "", rcpt_tos=tuple(envelope.rcpt_tos),
            message=message, raw=raw, login=login,
            tls=session.ssl is not None or self._owner.tls == "implicit"))
        return "250 2.0.0 OK: queued"


class _BoundController(Controller):
    """Controller on a socket bound before the thread starts: the port is
    known and held from the start, with no free-port race."""

    def __init__(self, handler: Any, sock: socket.socket, **kwargs: Any) -> None:
        host, port = sock.getsockname()[:2]
        super().__init__(handler, hostname=host, port=port, **kwargs)
        self._sock = sock

    def _create_server(self) -> Awaitable[asyncio.AbstractServer]:
        return self.loop.create_server(self._factory_invoker, sock=self._sock,
                                       ssl=self.ssl_context)

    def factory(self) -> SMTP:
        # AUTH without TLS is what the plain loopback case is for; aiosmtpd
        # warns about it on every connection.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
            return SMTP(self.handler, **self.SMTP_kwargs)


class SmtpServer:
    """A started SMTP server (use as a context manager, or start()/stop()).

    auth: (username, password) makes AUTH PLAIN/LOGIN required before MAIL.
    tls: "starttls" offers STARTTLS (require_starttls refuses everything
    before it), "implicit" is SMTPS (TLS from the first byte).
    """

    def __init__(self, *, auth: tuple[str, str] | None = None,
                 tls: Literal["starttls", "implicit"] | None = None,
                 require_starttls: bool = False, host: str = "127.0.0.1") -> None:
        if require_starttls and tls != "starttls":
            raise ValueError("require_starttls needs tls='starttls'")
        self.host = host
        self.credentials = auth
        self.tls = tls
        self._lock = threading.Condition()
        self._messages: list[ReceivedMail] = []
        self._overrides: list[_Override] = []
        self._attempts = 0
        self._auth_failures = 0
        self._tmp = tempfile.TemporaryDirectory(prefix="authcore-smtp-")
        self.cert_path: Path | None = None
        server_ctx: ssl.SSLContext | None = None
        if tls is not None:
            self.cert_path, key_path = _self_signed(Path(self._tmp.name))
            server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            server_ctx.load_cert_chain(self.cert_path, key_path)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, 0))
        sock.listen(64)
        self.port: int = sock.getsockname()[1]
        smtp_kwargs: dict[str, Any] = {
            "server_hostname": "localhost",
            "authenticator": self._authenticate if auth is not None else None,
            "auth_required": auth is not None,
            # Loopback tests may authenticate in the clear; with TLS on, AUTH
            # is only offered after STARTTLS, as on a real submission port.
            "auth_require_tls": tls == "starttls",
        }
        if tls == "starttls":
            smtp_kwargs["tls_context"] = server_ctx
            smtp_kwargs["require_starttls"] = require_starttls
        self._controller = _BoundController(
            _Handler(self), sock,
            ssl_context=server_ctx if tls == "implicit" else None, **smtp_kwargs)
        self._started = False

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> SmtpServer:
        self._controller.start()
        self._started = True
        return self

    def stop(self) -> None:
        if self._started:
            self._controller.stop()
            self._started = False
        self._tmp.cleanup()

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- what a client needs -------------------------------------------------

    @property
    def url(self) -> str:
        """An AUTHCORE_SMTP_URL for this server (credentials included)."""
        scheme = "smtps" if self.tls == "implicit" else "smtp"
        userinfo = ""
        if self.credentials is not None:
            user, password = self.credentials
            userinfo = f"{quote(user, safe='')}:{quote(password, safe='')}@"
        query = "?starttls=true" if self.tls == "starttls" else ""
        return f"{scheme}://{userinfo}{self.host}:{self.port}{query}"

    def client_ssl_context(self) -> ssl.SSLContext:
        """A client context trusting this server's certificate only."""
        if self.cert_path is None:
            raise RuntimeError("this server has no TLS")
        return ssl.create_default_context(cafile=str(self.cert_path))

    # -- steering ----------------------------------------------------------

    def reply_next(self, count: int, reply: str, *, at: Stage = "DATA") -> None:
        """Answer the next `count` deliveries with `reply` (e.g. "451 4.3.0
        try later", "550 5.1.1 no such user") at the given command."""
        _check_reply(reply)
        with self._lock:
            self._overrides.append(_Override(count=count, reply=reply, at=at))

    def stall_next(self, count: int, seconds: float,
                   reply: str = "451 4.4.2 stalled by the test server") -> None:
        """Hold the DATA reply of the next `count` deliveries for `seconds`,
        then refuse them (a client that timed out must not count as sent)."""
        _check_reply(reply)
        with self._lock:
            self._overrides.append(_Override(count=count, reply=reply, at="DATA",
                                             stall=seconds))

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()
            self._overrides.clear()
            self._attempts = 0
            self._auth_failures = 0

    # -- reading -----------------------------------------------------------

    @property
    def messages(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self._messages)

    @property
    def attempts(self) -> int:
        """Deliveries that reached a steered or accepted reply (refused ones too)."""
        with self._lock:
            return self._attempts

    @property
    def auth_failures(self) -> int:
        with self._lock:
            return self._auth_failures

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedMail]:
        """Block until at least `count` messages were accepted; return them all.
        Blocks the calling thread: from a coroutine whose own loop sends the
        mail, use `wait_for_async`."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"SMTP server received {len(self._messages)} of "
                                       f"{count} messages in {timeout} s")
                self._lock.wait(left)
            return list(self._messages)

    # `timeout` is the blocking wait's, run on a thread.
    async def wait_for_async(self, count: int, timeout: float = 10.0  # noqa: ASYNC109
                             ) -> list[ReceivedMail]:
        return await asyncio.to_thread(self.wait_for, count, timeout)

    # -- called on the server's thread ---------------------------------------

    def _record(self, mail: ReceivedMail) -> None:
        with self._lock:
            self._attempts += 1
            self._messages.append(mail)
            self._lock.notify_all()

    def _take(self, stage: Stage) -> Awaitable[str] | None:
        with self._lock:
            for override in self._overrides:
                if override.at == stage and override.count > 0:
                    override.count -= 1
                    self._attempts += 1
                    self._overrides = [o for o in self._overrides if o.count > 0]
                    return _answer(override.reply, override.stall)
            return None

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope,
                      mechanism: str, auth_data: Any) -> AuthResult:
        assert self.credentials is not None
        user, password = self.credentials
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login == user.encode()
              and auth_data.password == password.encode())
        if not ok:
            with self._lock:
                self._auth_failures += 1
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=auth_data)


async def _answer(reply: str, stall: float) -> str:
    if stall:
        await asyncio.sleep(stall)
    return reply


def _check_reply(reply: str) -> None:
    code = reply[:3]
    if not (code.isdigit() and code[0] in "45" and reply[3:4] in ("", " ")):
        raise ValueError(f"not a 4xx/5xx SMTP reply: {reply!r}")


def _self_signed(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]), critical=False)
        # A self-signed leaf that is its own trust anchor: CA bit, key usages
        # and key identifiers keep strict X.509 verifiers content too.
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False,
            crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return cert_path, key_path

"""Entrust's protected offline OTP batches (POST /api/web/v1/self/tokens/offline).

The signed-in user asks for the OTPs of one of their TOKEN authenticators for
the coming hours (TOTP) or counters (HOTP), hashed as verify/offline_otp.py
says, so a laptop can check codes without the network.

Clients and the useSecret chain: each (token, client name) has a row in
offline_clients. Its first request carries no secret; every answer carries a
fresh random useSecret (32 bytes) and the next request of that client must
send it back (tokenProtectedOfflineOTPClientSecret, several concatenated
secrets allowed). The one before it is accepted as well, so an answer lost in
transit doesn't lock the client out; anything else is 403. Only SHA-256
hashes of the secrets are stored. The update of the row is a compare-and-set
on the secret issued last: of two concurrent requests with one secret, one
wins and the other answers 409.

Optimization: a client that proved its secret and didn't set
tokenProtectedOfflineOTPDoNotOptimize is sent only the moving factors after
the last one it was sent (`issued_through`), as far as those are not
expired yet (before now's TOTP step or the HOTP counter); resultOptimized
then says so.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from authcore.errors import Conflict, InvalidArgument, NotFound, PermissionDenied
from authcore.flows import audit
from authcore.flows.context import Core
from authcore.flows.factors.token import open_seed
from authcore.flows.policy import SelfServicePolicy, app_policy
from authcore.flows.self_service import SelfServiceFlow
from authcore.store.models import OfflineClient, OtpToken
from authcore.v1 import self_service_pb2 as selfsvc
from authcore.verify.offline_otp import (
    MAX_ENTRIES,
    OfflineOTPError,
    encode_entries,
    generate_offline_batch,
)
from authcore.verify.otp import current_time_step

SECRET_BYTES = 32
_MAX_CLIENT_NAME = 255
# count * iterations of one batch: keeps one request's CPU (on a hashing
# thread) around a second whatever the policy says.
MAX_WORK = 10_000_000

_P = selfsvc.OfflineOTPProtection


def _bad(field: str, problem: str, reason: str = "invalid_argument") -> InvalidArgument:
    return InvalidArgument(f"{field} {problem}.", reason=reason,
                           field_violations=[(field, problem)])


def _hash(secret: bytes) -> str:
    return hashlib.sha256(secret).hexdigest()


def _size(parms: selfsvc.TokenProtectedOfflineParms, policy: SelfServicePolicy) -> int:
    get = parms.token_protected_offline_otp_get
    if get == _P.OFFLINE_OTP_PROTECTION_NONE:
        return 0
    if get == _P.OFFLINE_OTP_PROTECTION_MINOR:
        return policy.offline_minor_size
    if get == _P.OFFLINE_OTP_PROTECTION_MAJOR:
        return policy.offline_max_size
    if get == _P.OFFLINE_OTP_PROTECTION_CUSTOM:
        if not parms.HasField("token_protected_offline_otp_size"):
            raise _bad("tokenProtectedOfflineParms.tokenProtectedOfflineOTPSize",
                       "is required with CUSTOM", "missing_field")
        size = parms.token_protected_offline_otp_size
        if not 1 <= size <= policy.offline_max_size:
            raise _bad("tokenProtectedOfflineParms.tokenProtectedOfflineOTPSize",
                       f"must be between 1 and {policy.offline_max_size}")
        return int(size)
    raise _bad("tokenProtectedOfflineParms.tokenProtectedOfflineOTPGet",
               "is required (NONE, MINOR, MAJOR or CUSTOM)", "missing_field")


def _busy() -> Conflict:
    return Conflict("Another request of this client was served at the same time.",
                    reason="offline_client_busy")


def _proved(client: OfflineClient, sent: bytes) -> str | None:
    """The stored hash of the secret among `sent` this client holds, if any.
    Every chunk is compared against both hashes (constant time each)."""
    found: str | None = None
    for i in range(0, len(sent), SECRET_BYTES):
        digest = _hash(sent[i:i + SECRET_BYTES])
        for stored in (client.next_secret_hash, client.secret_hash):
            if stored and hmac.compare_digest(digest, stored) and found is None:
                found = stored
    return found


class OfflineTokenFlow:
    def __init__(self, core: Core, self_service: SelfServiceFlow) -> None:
        self.core = core
        self.self_service = self_service

    async def batch(self, req: selfsvc.GetOfflineTokenResponsesRequest, authorization: str
                    ) -> selfsvc.OfflineTokenAuthenticateResponse:
        if not req.application_id.strip():
            raise _bad("applicationId", "is required", "missing_field")
        serial = req.token_serial_number.strip()
        if not serial:
            raise _bad("tokenSerialNumber", "is required", "missing_field")
        if not req.HasField("token_protected_offline_parms"):
            raise _bad("tokenProtectedOfflineParms", "is required", "missing_field")
        parms = req.token_protected_offline_parms
        client_name = parms.token_protected_offline_otp_client_name.strip()
        if len(client_name) > _MAX_CLIENT_NAME:
            raise _bad("tokenProtectedOfflineParms.tokenProtectedOfflineOTPClientName",
                       f"must be at most {_MAX_CLIENT_NAME} characters")
        sent = parms.token_protected_offline_otp_client_secret
        if len(sent) % SECRET_BYTES or len(sent) > 16 * SECRET_BYTES:
            raise _bad("tokenProtectedOfflineParms.tokenProtectedOfflineOTPClientSecret",
                       f"must be one or more {SECRET_BYTES}-byte secrets", "invalid_secret")
        now = self.core.clock()
        async with self.core.read() as db:
            _, user, app = await self.self_service.me(db, authorization)
            if req.application_id.strip() != app.id:
                raise PermissionDenied("applicationId is not the session's application.",
                                       reason="application_mismatch")
            policy = SelfServicePolicy.from_settings(app.settings)
            if not policy.offline_tokens_enabled:
                raise PermissionDenied("The application does not serve offline OTPs.",
                                       reason="offline_tokens_disabled")
            if "TOKEN" not in app.authenticators:
                raise PermissionDenied("The application does not allow TOKEN.",
                                       reason="authenticator_not_allowed")
            token = (await db.execute(select(OtpToken).where(
                OtpToken.serial_number == serial[:64], OtpToken.user_pk == user.pk,
            ))).scalar_one_or_none()
            if token is None:
                raise NotFound("The token was not found.", reason="token_not_found")
            if token.ocra_suite is not None:
                raise InvalidArgument("A challenge-response (OCRA) token has no offline OTPs.",
                                      reason="token_not_otp")
            client = (await db.execute(select(OfflineClient).where(
                OfflineClient.token_id == token.id, OfflineClient.client_name == client_name,
            ))).scalar_one_or_none()
        # A batch costs up to a second of a hashing thread: the per-user
        # limit keeps one session from queueing many.
        await self.core.rate_limit(user_key=user.user_id)
        size = _size(parms, policy)
        factors = app_policy(app.settings)
        if token.kind.upper() == "TOTP":
            base = current_time_step(now=now, period=token.period)
            count, window, interval = size * 3600 // token.period, factors.totp_drift_steps, \
                token.period
        else:
            base, count, window, interval = token.counter, size, factors.hotp_look_ahead, 0
        if count > MAX_ENTRIES or count * policy.offline_iterations > MAX_WORK:
            raise _bad("tokenProtectedOfflineParms.tokenProtectedOfflineOTPSize",
                       "asks for more OTPs than one batch may hold; ask for fewer units",
                       "batch_too_large")

        proved: str | None = None
        if client is None:
            if sent:
                raise PermissionDenied("The client secret is not this client's.",
                                       reason="invalid_offline_secret")
        else:
            if not sent:
                raise Conflict("This client already has offline OTPs; send its useSecret "
                               "as tokenProtectedOfflineOTPClientSecret.",
                               reason="offline_client_registered")
            proved = _proved(client, sent)
            if proved is None:
                async with self.core.write() as db:
                    audit.record(db, event="offline_otp_batch", outcome="failure",
                                 reason="invalid_offline_secret", now=now,
                                 application_id=app.id, user_id=user.user_id,
                                 authenticator="TOKEN")
                raise PermissionDenied("The client secret is not this client's.",
                                       reason="invalid_offline_secret")
        end = base + count - 1
        held = client.issued_through if client is not None else None
        optimize = (proved is not None and count > 0 and held is not None and held >= base
                    and not parms.token_protected_offline_otp_do_not_optimize)
        first = held + 1 if optimize and held is not None else base
        issued = (max(held or 0, end) if optimize else end) if count > 0 else held
        try:
            batch = await self.core.blocking(
                generate_offline_batch, secret=open_seed(self.core.sealer, token),
                algorithm=token.algorithm, digits=token.digits, first_moving_factor=first,
                count=max(0, end - first + 1), iterations=policy.offline_iterations,
                private_salt_length=policy.offline_private_salt_length)
        except OfflineOTPError as exc:
            raise _bad("tokenSerialNumber", f"names a token that can't be used offline "
                                            f"({exc.message})", "invalid_token") from None
        use_secret = secrets.token_bytes(SECRET_BYTES)
        try:
            async with self.core.write() as db:
                if client is None:
                    db.add(OfflineClient(
                        id=str(uuid.uuid4()), token_id=token.id, client_name=client_name,
                        secret_hash=None, next_secret_hash=_hash(use_secret),
                        issued_through=issued, created_at=now, updated_at=now))
                else:
                    result = await db.execute(update(OfflineClient).where(
                        OfflineClient.id == client.id,
                        OfflineClient.next_secret_hash == client.next_secret_hash,
                    ).values(secret_hash=proved, next_secret_hash=_hash(use_secret),
                             issued_through=issued, updated_at=now))
                    if result.rowcount != 1:  # type: ignore[attr-defined]
                        raise _busy()
                audit.record(db, event="offline_otp_batch", outcome="success", now=now,
                             application_id=app.id, user_id=user.user_id,
                             authenticator="TOKEN")
        except IntegrityError:
            # Two first requests of one client name: the unique key lets one in.
            raise _busy() from None
        return selfsvc.OfflineTokenAuthenticateResponse(
            first_moving_factor=first, iterations=policy.offline_iterations,
            max_size_in_units=policy.offline_max_size, max_time_steps=window,
            minor_size_in_units=policy.offline_minor_size, otps=encode_entries(batch.entries),
            private_salt_length=policy.offline_private_salt_length,
            result_optimized=optimize, time_drift=0, time_interval=interval,
            token_serial_number=token.serial_number, use_secret=use_secret)

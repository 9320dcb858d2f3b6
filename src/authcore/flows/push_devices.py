"""Push devices: registration (admin API, or the device itself with a
one-time activation code) and the device's signed answer to a push.

Registration and listing are admin/config paths and use the ORM. The answer
(`respond`) is on the sign-in path: one read, then one hot transaction that
records the answer and moves the device's counter forward, both by
compare-and-set, so an answer can be recorded once and a captured answer
can't be sent again.
"""

from __future__ import annotations

import functools
import re
import secrets
import uuid
from pathlib import Path

from cryptography import x509
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from authcore.errors import (
    AlreadyExists,
    Conflict,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unauthenticated,
)
from authcore.flows import audit
from authcore.flows.authentication import Caller
from authcore.flows.context import Core
from authcore.flows.directory import get_user
from authcore.flows.names import type_name, type_value
from authcore.flows.revocation import revocation_said
from authcore.store.hot import HotDb
from authcore.store.hot import queries as hq
from authcore.store.hot import statements as q
from authcore.store.models import PushActivation, PushDevice, User
from authcore.v1 import authentication_pb2 as authn
from authcore.v1 import push_devices_pb2 as pb
from authcore.verify.otp import hash_code
from authcore.verify.push import (
    PushVerificationError,
    load_device_public_key,
    verify_transaction_push_response,
)
from authcore.verify.revocation import RevocationError
from authcore.verify.smart_credential import (
    SmartCredentialError,
    load_ca_bundle,
    load_certificate,
    verify_smart_credential,
)
from authcore.verify.temp_code import generate_temp_code

KINDS = ("TOKENPUSH", "SMARTCREDENTIALPUSH")
ACTIVATION_SECONDS = 600
# How long an expired push or activation code is kept (for an admin's look).
PRUNE_AFTER_SECONDS = 3600
_MAX_LABEL = 100
_MAX_KEY_CHARS = 1024
_MAX_SIGNATURE_CHARS = 512
_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_STATUSES = {authn.PUSH_STATUS_CONFIRM: "CONFIRM", authn.PUSH_STATUS_CONCERN: "CONCERN",
             authn.PUSH_STATUS_CANCEL: "CANCEL"}


def _invalid(field: str, problem: str, reason: str = "invalid_field") -> InvalidArgument:
    return InvalidArgument(f"{field} {problem}.", reason=reason,
                           field_violations=[(field, problem)])


@functools.cache
def smart_credential_bundle(value: str) -> tuple[x509.Certificate, ...]:
    """AUTHCORE_SMART_CREDENTIAL_CA's certificates (inline PEM or a path)."""
    pem = value.encode() if value.startswith("-----BEGIN") else Path(value).read_bytes()
    return tuple(load_ca_bundle(pem))


def trust_anchors(core: Core) -> list[x509.Certificate]:
    """The CAs of AUTHCORE_SMART_CREDENTIAL_CA (inline PEM or a file path)."""
    value = core.settings.smart_credential_ca
    if not value:
        raise FailedPrecondition("No smart credential CA is configured "
                                 "(AUTHCORE_SMART_CREDENTIAL_CA).",
                                 reason="smart_credential_ca_not_configured")
    try:
        return list(smart_credential_bundle(value))
    except (OSError, ValueError):
        raise FailedPrecondition("AUTHCORE_SMART_CREDENTIAL_CA holds no readable PEM "
                                 "certificate.", reason="smart_credential_ca_invalid") from None


def _device_message(d: PushDevice, subject: str | None = None) -> pb.PushDevice:
    msg = pb.PushDevice(serial_number=d.serial_number, type=type_value(d.kind),
                        created=int(d.created_at * 1000))
    if d.label:
        msg.label = d.label
    if d.certificate is not None:
        if subject is None:
            subject = x509.load_der_x509_certificate(d.certificate).subject.rfc4514_string()
        msg.certificate_subject = subject
    if d.not_after is not None:
        msg.certificate_expires = int(d.not_after * 1000)
    return msg


class PushDeviceFlow:
    def __init__(self, core: Core) -> None:
        self.core = core

    # -- registration --------------------------------------------------------

    def _key_material(self, kind: str, public_key: str, certificate: str, now: float
                      ) -> tuple[bytes, bytes | None, float | None, str | None]:
        """(SPKI DER, certificate DER, notAfter, subject) of what a device
        registers, checked; 400 naming the field when it doesn't hold."""
        if kind == "TOKENPUSH":
            if not public_key:
                raise _invalid("publicKey", "is required for TOKENPUSH", "missing_field")
            if len(public_key) > _MAX_KEY_CHARS:
                raise _invalid("publicKey", "is too long")
            try:
                return load_device_public_key(public_key=public_key), None, None, None
            except PushVerificationError:
                raise _invalid("publicKey", "is not a P-256 public key (base64 SPKI DER or "
                               "uncompressed point)", "invalid_public_key") from None
        if not certificate:
            raise _invalid("certificate", "is required for SMARTCREDENTIALPUSH",
                           "missing_field")
        anchors = trust_anchors(self.core)
        try:
            credential = verify_smart_credential(
                certificate=load_certificate(certificate=certificate), trust_anchors=anchors,
                now=now)
        except SmartCredentialError as exc:
            raise _invalid("certificate", exc.message, exc.reason) from None
        return (credential.public_key_der, credential.certificate_der, credential.not_after,
                credential.subject)

    async def _not_revoked(self, certificate: x509.Certificate, now: float) -> None:
        """AUTHCORE_SMART_CREDENTIAL_CRL's check (RevocationError), when set."""
        crls = self.core.smart_credential_crls
        if crls is not None:
            await crls.check(certificate=certificate, now=now, blocking=self.core.blocking)

    async def _checked_material(self, kind: str, public_key: str, certificate: str, now: float
                                ) -> tuple[bytes, bytes | None, float | None, str | None]:
        """`_key_material`, and a smart credential's revocation check: a
        revoked one is refused like an untrusted one (400 on certificate)."""
        material = self._key_material(kind, public_key, certificate, now)
        if material[1] is not None:
            try:
                await self._not_revoked(x509.load_der_x509_certificate(material[1]), now)
            except RevocationError as exc:
                raise _invalid("certificate", revocation_said(exc), exc.reason) from None
        return material

    async def _add(self, db: AsyncSession, user: User, kind: str, label: str | None,
                   material: tuple[bytes, bytes | None, float | None, str | None],
                   now: float) -> pb.PushDevice:
        spki, cert, not_after, subject = material
        device = PushDevice(id=str(uuid.uuid4()), user_pk=user.pk,
                            serial_number=f"{secrets.randbelow(10**12):012d}", kind=kind,
                            label=label, public_key=spki, certificate=cert,
                            not_after=not_after, counter=0, created_at=now)
        db.add(device)
        audit.record(db, event="push_device_registered", outcome="success", now=now,
                     user_id=user.user_id, authenticator=kind)
        return _device_message(device, subject)

    @staticmethod
    def _kind(value: int, *, default: str | None = None) -> str:
        kind = type_name(value) or default
        if kind not in KINDS:
            raise _invalid("type", "must be TOKENPUSH or SMARTCREDENTIALPUSH",
                           "invalid_authenticator")
        return kind

    @staticmethod
    def _label(req: pb.CreatePushDeviceRequest | pb.CreatePushActivationRequest) -> str | None:
        label = req.label.strip() if req.HasField("label") else ""
        if len(label) > _MAX_LABEL:
            raise _invalid("label", f"must be at most {_MAX_LABEL} characters")
        return label or None

    async def create_device(self, req: pb.CreatePushDeviceRequest) -> pb.PushDevice:
        kind = self._kind(req.type)
        label = self._label(req)
        now = self.core.clock()
        material = await self._checked_material(kind, req.public_key, req.certificate, now)
        try:
            async with self.core.write() as db:
                user = await get_user(db, req.user_id)
                return await self._add(db, user, kind, label, material, now)
        except IntegrityError:
            raise AlreadyExists("Try again: a serial number collided.",
                                reason="serial_number_taken") from None

    async def list_devices(self, req: pb.ListPushDevicesRequest) -> pb.ListPushDevicesResponse:
        async with self.core.read() as db:
            user = await get_user(db, req.user_id)
            rows = (await db.execute(select(PushDevice).where(PushDevice.user_pk == user.pk)
                                     .order_by(PushDevice.created_at))).scalars().all()
        return pb.ListPushDevicesResponse(devices=[_device_message(d) for d in rows])

    async def delete_device(self, req: pb.DeletePushDeviceRequest) -> None:
        now = self.core.clock()
        async with self.core.write() as db:
            user = await get_user(db, req.user_id)
            gone = await db.execute(delete(PushDevice).where(
                PushDevice.user_pk == user.pk, PushDevice.serial_number == req.serial_number[:64]))
            if gone.rowcount != 1:  # type: ignore[attr-defined]
                raise NotFound("The push device was not found.", reason="push_device_not_found")
            audit.record(db, event="push_device_deleted", outcome="success", now=now,
                         user_id=user.user_id)

    async def create_activation(
        self, req: pb.CreatePushActivationRequest
    ) -> pb.CreatePushActivationResponse:
        kind = self._kind(req.type, default="TOKENPUSH")
        label = self._label(req)
        now = self.core.clock()
        code = generate_temp_code(length=12)
        async with self.core.write() as db:
            user = await get_user(db, req.user_id)
            db.add(PushActivation(id=str(uuid.uuid4()), user_pk=user.pk,
                                  code_hash=hash_code(code=code, key=self.core.code_key),
                                  kind=kind, label=label, expires_at=now + ACTIVATION_SECONDS,
                                  used_at=None, created_at=now))
            audit.record(db, event="push_activation_created", outcome="success", now=now,
                         user_id=user.user_id, authenticator=kind)
        return pb.CreatePushActivationResponse(activation_code=code,
                                               expires=int((now + ACTIVATION_SECONDS) * 1000))

    async def activate(self, req: pb.ActivatePushDeviceRequest, caller: Caller) -> pb.PushDevice:
        code = req.activation_code.strip().upper()
        if not code:
            raise _invalid("activationCode", "is required", "missing_field")
        if len(code) > 64:
            raise _invalid("activationCode", "is too long")
        await self.core.rate_limit(client_ip=caller.client_ip)
        now = self.core.clock()
        code_hash = hash_code(code=code, key=self.core.code_key)
        async with self.core.read() as db:
            found = (await db.execute(select(PushActivation).where(
                PushActivation.code_hash == code_hash))).scalar_one_or_none()
        if found is None or found.used_at is not None or found.expires_at <= now:
            # One answer for unknown, used and expired: a code tells nothing.
            raise Unauthenticated("The activation code is invalid, used or expired.",
                                  reason="invalid_activation_code")
        material = await self._checked_material(found.kind, req.public_key, req.certificate,
                                                now)
        async with self.core.write() as db:
            taken = await db.execute(update(PushActivation).where(
                PushActivation.id == found.id, PushActivation.used_at.is_(None),
                PushActivation.expires_at > now).values(used_at=now))
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                raise Unauthenticated("The activation code is invalid, used or expired.",
                                      reason="invalid_activation_code")
            user = await db.get(User, found.user_pk)
            if user is None:
                raise Unauthenticated("The activation code is invalid, used or expired.",
                                      reason="invalid_activation_code")
            return await self._add(db, user, found.kind, found.label, material, now)

    # -- the device's answer -------------------------------------------------

    async def respond(self, req: pb.RespondToPushRequest, caller: Caller) -> None:
        problems = []
        if not _UUID_RE.fullmatch(req.push_id):
            problems.append(("pushId", "must be the push's id"))
        if not req.serial_number:
            problems.append(("serialNumber", "is required"))
        status = _STATUSES.get(req.status)
        if status is None:
            problems.append(("status", "must be CONFIRM, CONCERN or CANCEL"))
        if req.counter <= 0:
            problems.append(("counter", "must be a positive integer"))
        if not req.signature or len(req.signature) > _MAX_SIGNATURE_CHARS:
            problems.append(("signature", "is required (base64url, at most 512 characters)"))
        if problems:
            raise InvalidArgument("The push answer is malformed.", reason="invalid_field",
                                  field_violations=problems)
        assert status is not None
        await self.core.rate_limit(client_ip=caller.client_ip)
        now = self.core.clock()
        hot = self.core.hot
        push = await hq.push_request(hot, req.push_id)
        device = await hq.push_device_by_serial(hot, req.serial_number[:64])
        if push is None or device is None or device.user_pk != push.user_pk \
                or device.kind != push.kind:
            raise NotFound("The push was not found.", reason="push_not_found")
        if push.status != "PENDING":
            raise Conflict("The push was already answered.", reason="push_already_answered")
        if push.expires_at <= now:
            raise Conflict("The push has expired.", reason="push_expired")
        picked = req.mutual_challenge if req.HasField("mutual_challenge") else ""
        if status == "CONFIRM" and push.mutual_challenge is not None and not picked:
            raise _invalid("mutualChallenge", "is required: this push asks for the number "
                           "shown at sign-in", "missing_field")
        try:
            if device.certificate is not None:
                # A credential may have lapsed, been revoked (or its CA been
                # dropped) since it was registered.
                credential = x509.load_der_x509_certificate(device.certificate)
                verify_smart_credential(certificate=credential,
                                        trust_anchors=trust_anchors(self.core), now=now)
                await self._not_revoked(credential, now)
            verify_transaction_push_response(
                public_key_der=device.public_key, push_id=push.id, challenge=push.challenge,
                status=status, counter=req.counter, last_counter=device.counter,
                details_hash=push.details_hash, mutual_challenge=picked,
                signature=req.signature)
        except (PushVerificationError, SmartCredentialError, RevocationError) as exc:
            async with hot.transaction() as tx:
                await audit.hot_record(tx, event="push_response", outcome="failure",
                                       reason=exc.reason, now=now, authenticator=push.kind,
                                       client_ip=caller.client_ip)
            # Nothing changes: a forged or replayed answer neither approves
            # nor denies.
            raise Unauthenticated("The device's answer does not verify.",
                                  reason="replayed_response" if exc.reason == "invalid_counter"
                                  else exc.reason) from None
        wrong_pick = (status == "CONFIRM" and push.mutual_challenge is not None
                      and not secrets.compare_digest(picked.encode(),
                                                     push.mutual_challenge.encode()))
        # A wrong number is what approving someone else's sign-in looks like.
        recorded = "CONCERN" if wrong_pick else status
        async with hot.transaction() as tx:
            if await tx.execute(q.ADVANCE_PUSH_DEVICE_COUNTER,
                                {"id": device.id, "counter": req.counter}) != 1:
                raise Unauthenticated("The device's answer was already used.",
                                      reason="replayed_response")
            if await tx.execute(q.ANSWER_PUSH_REQUEST, {"id": push.id, "status": recorded,
                                                        "device_id": device.id,
                                                        "now": now}) != 1:
                raise Conflict("The push was already answered.", reason="push_already_answered")
            await audit.hot_record(tx, event="push_response", outcome=recorded.lower(), now=now,
                                   authenticator=push.kind, client_ip=caller.client_ip)
        if wrong_pick:
            raise InvalidArgument("The number picked is not the one shown at sign-in; the "
                                  "sign-in is refused.", reason="mutual_challenge_mismatch",
                                  field_violations=[("mutualChallenge", "does not match")])


async def prune(hot: HotDb, *, now: float) -> int:
    """Drop pushes and activation codes expired over an hour ago."""
    before = now - PRUNE_AFTER_SECONDS
    async with hot.transaction() as tx:
        return (await tx.execute(q.PRUNE_PUSH_REQUESTS, {"before": before})
                + await tx.execute(q.PRUNE_PUSH_ACTIVATIONS, {"before": before}))

"""MACHINE: a device registered on the completion of another factor,
presenting its machine nonce and its current sequence nonce.

Registration rides on the completing request of any other factor
(`machineAuthenticatorRegistration`); the response carries the machine
nonce and the first sequence nonce, shown once. Each MACHINE authentication
rotates the sequence nonce by compare-and-set in the call's write
transaction and returns the next one. A right machine nonce with a wrong
sequence nonce revokes the machine (a copy of its values is in use).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from authcore.errors import InvalidArgument, PermissionDenied
from authcore.flows.factors.base import (
    SUCCESS_RESPONSE,
    Answer,
    Effect,
    FactorContext,
    FailureWithEffect,
    Started,
    StartInput,
)
from authcore.flows.factors.fido import FidoAnswer
from authcore.flows.policy import AppPolicy
from authcore.store.hot import HotTx
from authcore.store.hot import queries as hq
from authcore.store.hot import statements as q
from authcore.store.hot.queries import AppRow, MachineRow
from authcore.v1 import authentication_pb2 as authn
from authcore.v1 import authenticators_pb2 as common
from authcore.verify.machine import (
    MachineRegistration,
    MachineVerificationError,
    StoredMachine,
    canonical_fingerprint,
    generate_machine_registration,
    hash_machine_nonce,
    verify_machine,
)

NAME = "MACHINE"
MAX_LABEL = 100
_NONCE_BYTES = 32


@dataclass(frozen=True)
class MachineInput:
    machine_nonce: str
    sequence_nonce: str
    fingerprint: str | None


@dataclass(frozen=True)
class MachineAnswer(FidoAnswer):
    """An answer that may carry Entrust's machineAuthenticator, as sent:
    only MACHINE reads (and checks) it; the other factors ignore it, as an
    SDK may send one with any completion."""

    machine: common.MachineAuthenticator | None = None


def _check_nonce(value: str, field: str) -> None:
    # Our nonces are base64 of 32 bytes: anything else is malformed input
    # (400), not a wrong answer.
    try:
        ok = len(value) <= 64 and len(base64.b64decode(value, validate=True)) == _NONCE_BYTES
    except (binascii.Error, ValueError):
        ok = False
    if not ok:
        raise InvalidArgument(f"{field} is not a machine nonce.", reason="invalid_value",
                              field_violations=[(field, "must be a nonce authcore issued")])


def _check_fingerprint(value: str, field: str) -> None:
    try:
        canonical_fingerprint(value)
    except MachineVerificationError as exc:
        raise InvalidArgument(f"{field} is not a device fingerprint.", reason="invalid_value",
                              field_violations=[(field, exc.message)]) from None


def machine_input(msg: common.MachineAuthenticator) -> MachineInput:
    """The request's machineAuthenticator, its shape checked (400 when
    malformed)."""
    where = "machineAuthenticator"
    for name in ("machine_nonce", "sequence_nonce"):
        json_name = msg.DESCRIPTOR.fields_by_name[name].json_name
        if not msg.HasField(name) or not getattr(msg, name):
            raise InvalidArgument(f"{where}.{json_name} is required.", reason="missing_field",
                                  field_violations=[(f"{where}.{json_name}", "is required")])
        _check_nonce(getattr(msg, name), f"{where}.{json_name}")
    fingerprint = msg.fingerprint if msg.HasField("fingerprint") and msg.fingerprint else None
    if fingerprint is not None:
        _check_fingerprint(fingerprint, f"{where}.fingerprint")
    return MachineInput(machine_nonce=msg.machine_nonce, sequence_nonce=msg.sequence_nonce,
                        fingerprint=fingerprint)


async def usable_machines(ctx: FactorContext) -> list[MachineRow]:
    pk, now = ctx.user.pk, ctx.now
    return await ctx.once("machines", lambda: hq.user_machines(ctx.core.hot, pk, now))


def _ts(epoch: float) -> Timestamp:
    return Timestamp(seconds=int(epoch))


def machine_settings(app: AppRow, policy: AppPolicy,
                     machines: list[MachineRow]) -> common.UserMachineSettings:
    out = common.UserMachineSettings(
        machine_authenticator_enabled=NAME in app.authenticators,
        device_fingerprint_required=policy.device_fingerprint_required)
    for m in machines:
        entry = out.user_machine_authenticators.add(id=m.id, label=m.label)
        entry.registration_time.CopyFrom(_ts(m.created_at))
        entry.expiry_time.CopyFrom(_ts(m.expires_at))
        if m.last_used_at is not None:
            entry.last_used_time.CopyFrom(_ts(m.last_used_at))
    return out


async def user_machine_settings(ctx: FactorContext) -> common.UserMachineSettings | None:
    """userMachineSettings for the query and challenges; None where the
    application doesn't allow MACHINE (nothing is read then)."""
    if NAME not in ctx.app.authenticators:
        return None
    return machine_settings(ctx.app, ctx.policy, await usable_machines(ctx))


class MachineFactor:
    name = NAME

    async def available(self, ctx: FactorContext) -> bool:
        # Opt-in per application, as a second factor too (where the other
        # factors need only PASSWORD_AND_SECONDFACTOR listed); it also
        # spares every other application's query the read.
        return NAME in ctx.app.authenticators and bool(await usable_machines(ctx))

    async def start(self, ctx: FactorContext, inp: StartInput) -> Started:
        # Nothing to show: the machine answers with what it holds.
        return Started(state={}, response=authn.AuthenticatedResponse())

    async def finish(
        self, ctx: FactorContext, state: dict[str, Any], answer: Answer
    ) -> Effect | None:
        sent = answer.machine if isinstance(answer, MachineAnswer) else None
        if sent is None:
            raise InvalidArgument("machineAuthenticator is required.", reason="missing_field",
                                  field_violations=[("machineAuthenticator", "is required")])
        # Raised before anything is written: a malformed answer neither uses
        # the challenge up nor counts.
        given = machine_input(sent)
        key = ctx.core.code_key
        nonce_hash = hash_machine_nonce(key=key, machine_nonce=given.machine_nonce)
        row = await hq.machine_by_nonce(ctx.core.hot, ctx.user.pk, nonce_hash)
        stored = None if row is None else StoredMachine(
            id=row.id, sequence_hash=row.sequence_hash, fingerprint_hash=row.fingerprint_hash,
            expires_at=row.expires_at, revoked_at=row.revoked_at)
        try:
            verified = verify_machine(
                key=key, machine=stored, sequence_nonce=given.sequence_nonce,
                fingerprint=given.fingerprint,
                fingerprint_required=ctx.policy.device_fingerprint_required, now=ctx.now)
        except MachineVerificationError as exc:
            if exc.reason == "stale_sequence_nonce" and row is not None:
                raise FailureWithEffect(exc, _revoke(row.id, ctx.now)) from None
            raise
        ctx.memo[SUCCESS_RESPONSE] = authn.AuthenticatedResponse(
            machine_authenticator=common.MachineAuthenticator(
                sequence_nonce=verified.next_sequence_nonce))
        assert row is not None
        current, now = row.sequence_hash, ctx.now
        revoke = _revoke(row.id, now)

        async def rotate(tx: HotTx) -> None:
            changed = await tx.execute(q.ROTATE_MACHINE_SEQUENCE, {
                "id": verified.machine_id, "sequence_hash": current,
                "next_hash": verified.next_sequence_hash, "now": now})
            if changed != 1:
                # A concurrent use of the same sequence nonce committed
                # first: two holders of one sequence nonce, as with a
                # replay (and as refresh tokens treat a lost rotation),
                # so the machine is revoked; this failure still commits.
                await revoke(tx)
                raise MachineVerificationError("stale_sequence_nonce",
                                               "a concurrent use rotated the sequence first")

        return rotate


def _revoke(machine_id: str, now: float) -> Effect:
    async def revoke(tx: HotTx) -> None:
        await tx.execute(q.REVOKE_MACHINE, {"id": machine_id, "now": now,
                                            "reason": "sequence_replayed"})

    return revoke


@dataclass(frozen=True)
class PendingRegistration:
    machine_id: str
    label: str
    values: MachineRegistration


def pending_registration(
    req: authn.AuthenticateUserChallengeRequest, *, app: AppRow, policy: AppPolicy,
    factor: str, issues_session: bool, key: bytes,
) -> PendingRegistration | None:
    """The request's machineAuthenticatorRegistration, checked and with its
    random values made (before the write transaction); None when absent."""
    if not req.HasField("machine_authenticator_registration"):
        return None
    reg = req.machine_authenticator_registration
    where = "machineAuthenticatorRegistration"
    if NAME not in app.authenticators:
        raise PermissionDenied("The application does not allow MACHINE.",
                               reason="authenticator_not_allowed")
    if factor == NAME:
        raise InvalidArgument("A machine is registered after another factor, not MACHINE.",
                              reason="invalid_value",
                              field_violations=[(where, "not allowed with MACHINE")])
    if not issues_session:
        raise InvalidArgument("Register the machine on the completion that ends the "
                              "authentication (the second factor's).", reason="invalid_value",
                              field_violations=[(where, "only on the last step")])
    label = reg.label.strip()
    # Labels are shown to the user and to admins: no control characters.
    if not label or len(label) > MAX_LABEL or not label.isprintable():
        raise InvalidArgument(f"{where}.label must be 1 to {MAX_LABEL} printable characters.",
                              reason="invalid_value",
                              field_violations=[(f"{where}.label",
                                                 f"must be 1 to {MAX_LABEL} printable "
                                                 "characters")])
    fingerprint = reg.fingerprint if reg.HasField("fingerprint") and reg.fingerprint else None
    if fingerprint is not None:
        _check_fingerprint(fingerprint, f"{where}.fingerprint")
    elif policy.device_fingerprint_required:
        raise InvalidArgument("The application requires a device fingerprint.",
                              reason="missing_field",
                              field_violations=[(f"{where}.fingerprint", "is required")])
    machine_id = str(uuid.uuid4())
    return PendingRegistration(
        machine_id=machine_id, label=label,
        values=generate_machine_registration(key=key, machine_id=machine_id,
                                             fingerprint=fingerprint))


async def register(tx: HotTx, pending: PendingRegistration, *, user_pk: str, policy: AppPolicy,
                   now: float, response: authn.AuthenticatedResponse) -> None:
    v = pending.values
    await tx.execute(q.INSERT_MACHINE, {
        "id": pending.machine_id, "user_pk": user_pk, "label": pending.label,
        "nonce_hash": v.nonce_hash, "sequence_hash": v.sequence_hash,
        "fingerprint_hash": v.fingerprint_hash, "now": now,
        "expires_at": now + policy.machine_seconds})
    await tx.execute(q.REVOKE_SURPLUS_MACHINES, {"user_pk": user_pk, "now": now,
                                                 "keep": policy.max_machines})
    response.machine_authenticator.CopyFrom(common.MachineAuthenticator(
        machine_nonce=v.machine_nonce, sequence_nonce=v.sequence_nonce))

"""TOKENPUSH and SMARTCREDENTIALPUSH: a push to the user's device, approved
or denied by the device signing its answer (flows/push_devices.py takes it).

The challenge writes one `push_requests` row and one PUSH outbox message
per device (the push webhook's relay hands it to FCM/APNs). The relying
party then polls complete with the challenge token: while the device has
not answered, complete answers `status: NO_RESPONSE` and keeps the
challenge; CONFIRM signs the user in; CONCERN is a failure counted by the
lockout; CANCEL uses the challenge up without counting. A TOKENPUSH
challenge may instead be completed with the OTP of one of the user's
TOKENs in `response`, as Entrust allows.
"""

from __future__ import annotations

import json
import random
import uuid
from typing import Any

from cryptography import x509

from authcore.delivery.channels import KIND_PUSH
from authcore.delivery.outbox import Message
from authcore.errors import InvalidArgument, Unauthenticated
from authcore.flows.factors.base import Answer, Effect, FactorContext, Started, StartInput
from authcore.flows.factors.token import TokenFactor, user_tokens
from authcore.store.hot import HotTx
from authcore.store.hot import queries as hq
from authcore.store.hot import statements as q
from authcore.store.hot.queries import PushDeviceRow
from authcore.v1 import authentication_pb2 as authn
from authcore.verify.errors import VerificationError
from authcore.verify.push import (
    generate_mutual_challenge,
    generate_push_challenge,
    transaction_details_hash,
)
from authcore.verify.revocation import RevocationError

PUSH_FACTORS = ("TOKENPUSH", "SMARTCREDENTIALPUSH")
# A push is answered within two minutes or not at all (Entrust's default).
PUSH_SECONDS = 120.0
# Numbers the device offers besides the right one, when the mutual
# challenge is on.
MUTUAL_DECOYS = 2


class PushVerificationFailed(VerificationError):
    """The device's answer refuses the sign-in (CONCERN), counted."""


class PushNotAnswered(Exception):
    """Complete found no answer yet: answer NO_RESPONSE, keep the challenge."""

    def __init__(self) -> None:
        super().__init__("no answer yet")
        self.response = authn.AuthenticatedResponse(
            authentication_completed=False, status=authn.PUSH_STATUS_NO_RESPONSE)


class PushEnded(Exception):
    """The push ended without a sign-in and without a counted failure (the
    user cancelled, or nobody answered in time): the challenge is used up
    and `error` is the answer."""

    def __init__(self, error: Unauthenticated) -> None:
        super().__init__(error.message)
        self.error = error


async def user_push_devices(ctx: FactorContext, kind: str) -> list[PushDeviceRow]:
    pk = ctx.user.pk
    devices = await ctx.once("push_devices", lambda: hq.user_push_devices(ctx.core.hot, pk))
    usable = [d for d in devices if d.kind == kind
              and (d.not_after is None or d.not_after > ctx.now)]
    crls = ctx.core.smart_credential_crls
    if kind != "SMARTCREDENTIALPUSH" or crls is None or not usable:
        return usable
    # A revoked credential (or one whose status the CRLs can't confirm) is
    # neither offered nor sent the push: its answer would be refused anyway,
    # and the push would show the transaction to a device no longer trusted.
    kept = []
    for device in usable:
        if device.certificate is None:
            continue
        try:
            await crls.check(certificate=x509.load_der_x509_certificate(device.certificate),
                             now=ctx.now, blocking=ctx.core.blocking)
        except (RevocationError, ValueError):
            continue
        kept.append(device)
    return kept


def _decoys(right: str) -> list[str]:
    rng = random.SystemRandom()
    options = {right}
    while len(options) < MUTUAL_DECOYS + 1:
        options.add(generate_mutual_challenge())
    shuffled = sorted(options)
    rng.shuffle(shuffled)
    return shuffled


class PushFactor:
    def __init__(self, name: str) -> None:
        self.name = name

    async def available(self, ctx: FactorContext) -> bool:
        return bool(await user_push_devices(ctx, self.name))

    async def start(self, ctx: FactorContext, inp: StartInput) -> Started:
        devices = await user_push_devices(ctx, self.name)
        for device in devices:
            # Push fatigue is message bombing: a device gets a phone's limits.
            await ctx.core.throttle_delivery("PUSH", address=device.id, client_ip=inp.client_ip)
        now, user_pk = ctx.now, ctx.user.pk
        ttl = min(float(ctx.policy.challenge_seconds), PUSH_SECONDS)
        push_id = str(uuid.uuid4())
        challenge = generate_push_challenge()
        details = inp.transaction_details
        summary = inp.summary or f"Sign in to {ctx.app.name}"
        details_hash = transaction_details_hash(summary=summary, details=details)
        mutual = generate_mutual_challenge() if inp.push_mutual_challenge else None
        payload: dict[str, Any] = {
            "type": self.name.lower(), "id": push_id, "challenge": challenge,
            "summary": summary,
            "transactionDetails": [{"detail": d, "value": v} for d, v in details],
            # No user id: the relay (FCM/APNs) needn't learn who signs in.
            "detailsHash": details_hash, "application": ctx.app.name,
            "expiresAt": int(now + ttl),
        }
        if inp.push_message_identifier:
            payload["pushMessageIdentifier"] = inp.push_message_identifier
        if mutual is not None:
            payload["mutualChallengeOptions"] = _decoys(mutual)
        messages = [Message(user_pk=user_pk, medium="PUSH", address=d.id, kind=KIND_PUSH,
                            text=json.dumps({**payload, "serialNumber": d.serial_number}),
                            application_id=ctx.app.id, expires_at=now + ttl)
                    for d in devices]
        outbox, kind = ctx.core.outbox, self.name

        async def send(tx: HotTx) -> None:
            await tx.insert(q.INSERT_PUSH_REQUEST, {
                "id": push_id, "user_pk": user_pk, "kind": kind, "challenge": challenge,
                "details_hash": details_hash, "mutual_challenge": mutual, "now": now,
                "expires_at": now + ttl})
            for message in messages:
                await outbox.queue(tx, message, now=now)

        response = authn.AuthenticatedResponse(token_details=[d.serial_number for d in devices])
        if mutual is not None:
            response.push_mutual_challenge = mutual
            response.token_push_mutual_challenge = mutual
        return Started(state={"push_id": push_id}, response=response, ttl_seconds=ttl,
                       effect=send)

    async def finish(
        self, ctx: FactorContext, state: dict[str, Any], answer: Answer
    ) -> Effect | None:
        if answer.response:
            if self.name != "TOKENPUSH" or not await user_tokens(ctx):
                raise InvalidArgument(f"A {self.name} challenge takes no response.",
                                      reason="invalid_response",
                                      field_violations=[("response", "not accepted")])
            # The token's OTP instead of the push (Entrust's soft token shows both).
            return await TokenFactor().finish(ctx, {}, answer)
        push = await hq.push_request(ctx.core.hot, str(state.get("push_id", "")))
        if push is None or push.user_pk != ctx.user.pk:
            raise PushVerificationFailed("invalid_token", "the push is gone")
        if push.status == "PENDING":
            if push.expires_at > ctx.now:
                raise PushNotAnswered
            raise PushEnded(Unauthenticated("The device did not answer the push in time.",
                                            reason="push_no_response"))
        if push.status == "CANCEL":
            raise PushEnded(Unauthenticated("The push was cancelled on the device.",
                                            reason="push_cancelled"))
        if push.status == "CONFIRM" and push.device_id is not None:
            return None
        # CONCERN ("this wasn't me"), or a device deleted since it confirmed.
        raise PushVerificationFailed("push_concern" if push.status == "CONCERN"
                                     else "push_device_removed", "the push was refused")


TOKEN_PUSH = PushFactor("TOKENPUSH")
SMART_CREDENTIAL_PUSH = PushFactor("SMARTCREDENTIALPUSH")


_MAX_DETAILS = 20
_MAX_DETAIL_CHARS = 100
_MAX_VALUE_CHARS = 1000
_MAX_SUMMARY_CHARS = 1000


def push_fields(req: Any) -> dict[str, Any]:
    """StartInput's push fields from a challenge or query request (both
    carry Entrust's summary, transactionDetails and mutual-challenge flags)."""
    summary = req.summary if req.HasField("summary") else None
    if summary is not None and len(summary) > _MAX_SUMMARY_CHARS:
        raise InvalidArgument("summary is too long.", reason="invalid_field",
                              field_violations=[("summary",
                                                 f"at most {_MAX_SUMMARY_CHARS} characters")])
    if len(req.transaction_details) > _MAX_DETAILS:
        raise InvalidArgument("Too many transactionDetails.", reason="invalid_field",
                              field_violations=[("transactionDetails",
                                                 f"at most {_MAX_DETAILS} items")])
    details = []
    for i, item in enumerate(req.transaction_details):
        detail, value = item.detail, item.value
        if not detail or len(detail) > _MAX_DETAIL_CHARS or len(value) > _MAX_VALUE_CHARS:
            raise InvalidArgument("A transaction detail is empty or too long.",
                                  reason="invalid_field",
                                  field_violations=[(f"transactionDetails[{i}]",
                                                     "needs a detail of 1-100 characters and "
                                                     "a value of at most 1000")])
        details.append((detail, value))
    return {"summary": summary, "transaction_details": tuple(details),
            "push_mutual_challenge": bool(req.push_mutual_challenge_enabled
                                          or req.token_push_mutual_challenge_enabled),
            "push_message_identifier": req.push_message_identifier or None}

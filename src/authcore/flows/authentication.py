"""The Entrust IDaaS authentication flow: query → challenge → complete, logout.

Challenge state lives in `core.challenges` (flows.challenges); the pure checks live
in verify/ and are reached through the per-authenticator modules in
flows/factors. PASSWORD_AND_SECONDFACTOR follows the wire protocol of
Entrust's browser SDK: challenge (T1) → complete with the password (T2,
authenticationCompleted false) → challenge with secondFactorAuthenticator and
authToken T2 (T3) → complete with the second factor → session JWT.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from authcore.errors import (
    FailedPrecondition,
    InvalidArgument,
    PermissionDenied,
    Unauthenticated,
    Unimplemented,
)
from authcore.flows import audit
from authcore.flows.challenges import ChallengeRecord, KeepChallenge, bare_token
from authcore.flows.context import Core
from authcore.flows.directory import get_active_user, get_application
from authcore.flows.factors import FACTORS, SECOND_FACTORS
from authcore.flows.factors.base import FactorContext, Started, StartInput
from authcore.flows.factors.fido import (
    FidoAnswer,
    assertion_json,
    check_relying_party,
    discoverable_user,
    start_discoverable,
)
from authcore.flows.factors.otp import delivery_info
from authcore.flows.factors.token import user_tokens
from authcore.flows.names import AUTHENTICATOR_ORDER, OTP_DELIVERY, type_name, type_value
from authcore.flows.policy import AppPolicy
from authcore.limits.lockout import LockoutState, is_locked, remaining_attempts
from authcore.store.models import Application, User
from authcore.tokens.sessions import issue_session, revoke_session, verify_session
from authcore.v1 import authentication_pb2 as authn
from authcore.v1 import authenticators_pb2 as common
from authcore.verify.errors import VerificationError

P2F = "PASSWORD_AND_SECONDFACTOR"

# Stages of a challenge row.
SINGLE = "single"
FIRST = "first"
SECOND_SELECT = "second_select"
SECOND = "second"

# Authenticators answered with a WebAuthn assertion (fidoResponse).
WEBAUTHN = ("FIDO", "PASSKEY")


@dataclass(frozen=True)
class Caller:
    """Who is calling, from the transport: used for rate limits and audit."""

    client_ip: str


def _ms(epoch_seconds: float) -> int:
    # Entrust's `expires` is epoch milliseconds, as Java's Date#getTime.
    return int(epoch_seconds * 1000)


class AuthenticationFlow:
    def __init__(self, core: Core) -> None:
        self.core = core

    # -- helpers -----------------------------------------------------------

    def _ctx(self, db: AsyncSession, app: Application, user: User, now: float) -> FactorContext:
        return FactorContext(core=self.core, db=db, app=app,
                             policy=AppPolicy.from_json(app.settings), user=user, now=now)

    @staticmethod
    def _requested(value: int, *, field: str) -> str:
        name = type_name(value)
        if not name:
            raise InvalidArgument("Unknown authenticator.", reason="invalid_authenticator",
                                  field_violations=[(field, "unknown authenticator")])
        if name != P2F and name not in FACTORS:
            raise Unimplemented(f"The {name} authenticator is not supported yet.",
                                reason="authenticator_not_supported")
        return name

    @staticmethod
    def _allowed(app: Application, name: str) -> None:
        if name not in app.authenticators:
            raise PermissionDenied(f"The application does not allow {name}.",
                                   reason="authenticator_not_allowed")

    async def _available(self, ctx: FactorContext) -> list[str]:
        """Authenticators the user has and the application allows, in the
        Entrust enum's order."""
        have = {name for name, f in FACTORS.items() if await f.available(ctx)}
        if "PASSWORD" in have and have.intersection(SECOND_FACTORS):
            have.add(P2F)
        return [n for n in AUTHENTICATOR_ORDER if n in have and n in ctx.app.authenticators]

    @staticmethod
    def _check_not_locked(states: dict[str, LockoutState], name: str, now: float) -> None:
        state = states.get(name)
        if state is not None and is_locked(state=state, now=now):
            raise _locked_error(name)

    async def _new_challenge(
        self, ctx: FactorContext, *, authenticator: str, stage: str, started: Started,
        extra_state: dict[str, object] | None = None,
    ) -> authn.AuthenticatedResponse:
        return await self._issue(ctx.db, ctx.app, ctx.policy, ctx.user.pk, ctx.now,
                                 authenticator=authenticator, stage=stage, started=started,
                                 extra_state=extra_state)

    async def _issue(
        self, db: AsyncSession, app: Application, policy: AppPolicy, user_pk: str | None,
        now: float, *, authenticator: str, stage: str, started: Started,
        extra_state: dict[str, object] | None = None,
    ) -> authn.AuthenticatedResponse:
        ttl = float(policy.challenge_seconds)
        if started.ttl_seconds is not None:
            ttl = min(ttl, started.ttl_seconds)
        state = {"factor_state": started.state, **(extra_state or {})}
        token, expires_at = await self.core.challenges.create(
            db, application_id=app.id, user_pk=user_pk, authenticator=authenticator,
            stage=stage, state=state, ttl_seconds=ttl, now=now,
        )
        response = authn.AuthenticatedResponse()
        response.CopyFrom(started.response)
        response.authentication_completed = False
        response.token = token
        response.expires = _ms(expires_at)
        return response

    # -- query -------------------------------------------------------------

    async def query(
        self, req: authn.QueryUserAuthenticatorsRequest, caller: Caller
    ) -> authn.QueryUserAuthenticatorsResponse:
        await self.core.rate_limit(client_ip=caller.client_ip, user_key=req.user_id)
        now = self.core.clock()
        # Only a default challenge writes anything.
        scope = self.core.write() if req.return_default_challenge else self.core.read()
        async with scope as db:
            app = await get_application(db, req.application_id)
            user = await get_active_user(db, req.user_id)
            ctx = self._ctx(db, app, user, now)
            available = await self._available(ctx)
            states = await self.core.lockouts.states(db, user_pk=user.pk)
            out = authn.QueryUserAuthenticatorsResponse(
                authentication_types=[type_value(n) for n in available],
            )
            for name in available:
                if name == P2F:
                    continue
                state = states.get(name, LockoutState.clear())
                status = out.authenticator_lockout_status.add(
                    type=type_value(name),
                    locked=is_locked(state=state, now=now),
                    remaining_authentication_attempts=remaining_attempts(
                        state=state, policy=ctx.policy.lockout, now=now),
                )
                if status.locked and state.locked_at is not None:
                    status.lockout_date.FromSeconds(int(state.locked_at))
                    if state.lockout_expires_at is not None:
                        status.lockout_expiry_date.FromSeconds(int(state.lockout_expires_at))
            if P2F in available:
                out.available_second_factor.extend(
                    type_value(n) for n in available if n in SECOND_FACTORS)
            if "OTP" in available:
                out.otp_delivery_info.CopyFrom(delivery_info(user))
            if "TOKEN" in available:
                out.token_details.extend(t.serial_number for t in await user_tokens(ctx))
            out.registration_required = not available
            if req.HasField("auth_token") and req.auth_token:
                claims, session = await verify_session(db, self.core.signer,
                                                       bare_token(req.auth_token), now=now)
                if session.user_pk != user.pk or claims.get("aud") != app.id:
                    raise Unauthenticated("The token belongs to another user or application.",
                                          reason="token_mismatch")
                out.authentication_completed = True
            elif req.return_default_challenge and available:
                default = available[0]
                response = await self._start(ctx, default, StartInput(), states)
                _copy_challenge(response, out)
        return out

    # -- challenge ---------------------------------------------------------

    async def _start(
        self, ctx: FactorContext, name: str, inp: StartInput, states: dict[str, LockoutState]
    ) -> authn.AuthenticatedResponse:
        if name == P2F:
            self._check_not_locked(states, "PASSWORD", ctx.now)
            started = await FACTORS["PASSWORD"].start(ctx, inp)
            return await self._new_challenge(ctx, authenticator=P2F, stage=FIRST,
                                             started=started)
        self._check_not_locked(states, name, ctx.now)
        started = await FACTORS[name].start(ctx, inp)
        return await self._new_challenge(ctx, authenticator=name, stage=SINGLE, started=started)

    async def challenge(
        self, req: authn.RequestUserChallengeRequest, caller: Caller
    ) -> authn.AuthenticatedResponse:
        name = self._requested(req.authenticator, field="authenticator")
        await self.core.rate_limit(client_ip=caller.client_ip, user_key=req.user_id)
        now = self.core.clock()
        inp = StartInput(
            otp_delivery_type=OTP_DELIVERY.get(req.otp_delivery_type)
            if req.HasField("otp_delivery_type") else None,
            otp_delivery_attribute=req.otp_delivery_attribute or None,
        )
        async with self.core.write() as db:
            app = await get_application(db, req.application_id)
            self._allowed(app, name)
            if name in WEBAUTHN:
                check_relying_party(app, rp_id=req.rp_id, origin=req.origin)
            if name == P2F and req.HasField("second_factor_authenticator"):
                return await self._second_factor_challenge(db, app, req, inp, now, caller)
            if name == "PASSKEY" and not req.user_id:
                return await self._discoverable_challenge(db, app, now, caller)
            user = await get_active_user(db, req.user_id)
            ctx = self._ctx(db, app, user, now)
            if name not in await self._available(ctx):
                raise FailedPrecondition(f"The user has no usable {name} authenticator.",
                                         reason="authenticator_not_enrolled")
            states = await self.core.lockouts.states(db, user_pk=user.pk)
            response = await self._start(ctx, name, inp, states)
            audit.record(db, event="challenge", outcome="issued", now=now,
                         application_id=app.id, user_id=user.user_id, authenticator=name,
                         client_ip=caller.client_ip)
            return response

    async def _discoverable_challenge(
        self, db: AsyncSession, app: Application, now: float, caller: Caller,
    ) -> authn.AuthenticatedResponse:
        """A PASSKEY challenge for whoever holds a passkey of the application's
        relying party: no user yet, empty allowCredentials."""
        response = await self._issue(db, app, AppPolicy.from_json(app.settings), None, now,
                                     authenticator="PASSKEY", stage=SINGLE,
                                     started=start_discoverable(app))
        audit.record(db, event="challenge", outcome="issued", now=now, application_id=app.id,
                     authenticator="PASSKEY", client_ip=caller.client_ip)
        return response

    async def passkey_challenge(
        self, req: authn.RequestPasskeyChallengeRequest, caller: Caller
    ) -> authn.RequestPasskeyChallengeResponse:
        """The deprecated /authentication/passkey: a discoverable PASSKEY
        challenge, completed like any PASSKEY challenge."""
        await self.core.rate_limit(client_ip=caller.client_ip)
        now = self.core.clock()
        async with self.core.write() as db:
            app = await get_application(db, req.application_id)
            self._allowed(app, "PASSKEY")
            check_relying_party(app, rp_id=req.rp_id, origin=req.origin)
            response = await self._discoverable_challenge(db, app, now, caller)
        return authn.RequestPasskeyChallengeResponse(fido_challenge=response.fido_challenge,
                                                     token=response.token)

    async def _second_factor_challenge(
        self, db: AsyncSession, app: Application, req: authn.RequestUserChallengeRequest,
        inp: StartInput, now: float, caller: Caller,
    ) -> authn.AuthenticatedResponse:
        second = type_name(req.second_factor_authenticator)
        if second not in SECOND_FACTORS:
            raise InvalidArgument("secondFactorAuthenticator must be a second factor.",
                                  reason="invalid_second_factor",
                                  field_violations=[("secondFactorAuthenticator",
                                                     "not a second factor")])
        if not req.auth_token:
            raise InvalidArgument("authToken from the password step is required.",
                                  reason="missing_field",
                                  field_violations=[("authToken", "is required")])
        first = await self.core.challenges.load(db, token=bare_token(req.auth_token), now=now)
        if first.stage != SECOND_SELECT or first.application_id != app.id:
            raise Unauthenticated("authToken is not a second-factor token of this application.",
                                  reason="challenge_mismatch")
        user = await self._challenge_user(db, first, req.user_id)
        ctx = self._ctx(db, app, user, now)
        if second not in await self._available(ctx):
            raise FailedPrecondition(f"The user has no usable {second} authenticator.",
                                     reason="authenticator_not_enrolled")
        self._check_not_locked(await self.core.lockouts.states(db, user_pk=user.pk), second,
                               now)
        await self.core.challenges.claim(db, challenge_id=first.id, now=now)
        started = await FACTORS[second].start(ctx, inp)
        response = await self._new_challenge(ctx, authenticator=P2F, stage=SECOND,
                                             started=started, extra_state={"factor": second})
        audit.record(db, event="challenge", outcome="issued", now=now, application_id=app.id,
                     user_id=user.user_id, authenticator=f"{P2F}:{second}",
                     client_ip=caller.client_ip)
        return response

    @staticmethod
    async def _challenge_user(db: AsyncSession, ch: ChallengeRecord, user_id: str) -> User:
        user = await db.get(User, ch.user_pk) if ch.user_pk else None
        if user is None:
            raise Unauthenticated("The challenge token is invalid.", reason="invalid_token")
        _check_challenge_user(user, user_id)
        return user

    # -- complete ----------------------------------------------------------

    async def complete(
        self, req: authn.AuthenticateUserChallengeRequest, authorization: str, caller: Caller
    ) -> authn.AuthenticatedResponse:
        """Check the challenge and verify the answer (reads + CPU), then one
        short write transaction that uses the challenge up and records the
        outcome. No verification runs while the write lock is held."""
        name = self._requested(req.authenticator, field="authenticator")
        await self.core.rate_limit(client_ip=caller.client_ip, user_key=req.user_id)
        now = self.core.clock()
        answer = FidoAnswer(
            response=req.response if req.HasField("response") else None,
            new_password=req.new_password if req.HasField("new_password") else None,
            kba_answers={q.id: q.answer for q in req.kba_challenge.user_questions},
            fido=assertion_json(req.fido_response) if req.HasField("fido_response") else None,
        )
        async with self.core.read() as db:
            ch, bound, app = await self.core.challenges.load_with_app(
                db, token=bare_token(authorization), now=now)
            if ch.authenticator != name or (
                req.application_id and req.application_id != ch.application_id
            ):
                raise Unauthenticated("The challenge token does not match this request.",
                                      reason="challenge_mismatch")
            if name in WEBAUTHN:
                check_relying_party(app, rp_id=req.rp_id, origin=req.origin)
            if bound is None:
                if req.cancel:
                    return await self._cancel(ch, app, None, name, now, caller)
                user = await self._discoverable_user(db, ch, app, answer, now, caller)
                if not req.user_id:
                    await self.core.rate_limit(user_key=user.user_id)
            else:
                user = bound
            _check_challenge_user(user, req.user_id)
            if ch.stage == SECOND_SELECT and not req.cancel:
                raise FailedPrecondition(
                    "Request the second factor's challenge with secondFactorAuthenticator "
                    "and this token as authToken first.", reason="second_factor_required")
            factor_name = {SINGLE: name, FIRST: "PASSWORD"}.get(ch.stage) or str(
                ch.state.get("factor"))
            if (ch.stage == SECOND and req.HasField("second_factor_authenticator")
                    and type_name(req.second_factor_authenticator) != factor_name):
                raise Unauthenticated("secondFactorAuthenticator does not match the challenge.",
                                      reason="challenge_mismatch")
            failure: VerificationError | None = None
            effect = None
            states = await self.core.lockouts.states(db, user_pk=user.pk)
            had_failures = factor_name in states
            if not req.cancel:
                self._check_not_locked(states, factor_name, now)
                try:
                    effect = await FACTORS[factor_name].finish(
                        self._ctx(db, app, user, now), ch.state.get("factor_state", {}), answer)
                except VerificationError as exc:
                    failure = exc
                except KeepChallenge as keep:
                    # Not used up: the client completes again on the same token.
                    raise keep.error from None

        log_event = functools.partial(audit.record, now=now, application_id=app.id,
                                      user_id=user.user_id, client_ip=caller.client_ip)
        if req.cancel:
            return await self._cancel(ch, app, user.user_id, name, now, caller)

        left = 0
        async with self.core.write() as db:
            # Using the challenge up in the same transaction as the outcome:
            # of several concurrent completes only one can commit, so a
            # challenge yields at most one success or one counted failure.
            await self.core.challenges.claim(db, challenge_id=ch.id, now=now)
            ctx = self._ctx(db, app, user, now)
            if effect is not None and failure is None:
                try:
                    await effect(db)
                except VerificationError as exc:
                    failure = exc
            if failure is None:
                if had_failures and await self.core.lockouts.record_success(
                        db, user_pk=user.pk, authenticator=factor_name, now=now):
                    # Locked by attempts that finished meanwhile: no success.
                    raise _locked_error(factor_name)
                log_event(db, event="complete", outcome="success", authenticator=factor_name)
                if ch.stage == FIRST:
                    return await self._new_challenge(
                        ctx, authenticator=P2F, stage=SECOND_SELECT,
                        started=Started(state={}, response=authn.AuthenticatedResponse()))
                amr = ["PASSWORD", factor_name] if ch.stage == SECOND else [factor_name]
                return await self._success(ctx, amr)
            counted = await self.core.lockouts.record_failure(
                db, user_pk=user.pk, authenticator=factor_name, policy=ctx.policy.lockout,
                now=now)
            log_event(db, event="complete", outcome="refused" if counted.refused else "failure",
                      reason="authenticator_locked" if counted.refused else failure.reason,
                      authenticator=factor_name)
            left = remaining_attempts(state=counted.state, policy=ctx.policy.lockout, now=now)
        if counted.refused:
            raise _locked_error(factor_name)
        raise Unauthenticated(
            "Authentication failed." + (" The authenticator is now locked." if left == 0 else ""),
            reason=failure.reason,
            metadata={"remainingAuthenticationAttempts": str(left)},
        )

    async def _cancel(self, ch: ChallengeRecord, app: Application, user_id: str | None,
                      name: str, now: float, caller: Caller) -> authn.AuthenticatedResponse:
        async with self.core.write() as db:
            await self.core.challenges.claim(db, challenge_id=ch.id, now=now)
            audit.record(db, event="complete", outcome="cancelled", now=now,
                         application_id=app.id, user_id=user_id, authenticator=name,
                         client_ip=caller.client_ip)
        return authn.AuthenticatedResponse(authentication_completed=False)

    async def _discoverable_user(self, db: AsyncSession, ch: ChallengeRecord, app: Application,
                                 answer: FidoAnswer, now: float, caller: Caller) -> User:
        """The user of a challenge issued without one (only a discoverable
        PASSKEY challenge is), named by the assertion. When none is found
        there is nobody to count the failure against; the challenge is used
        up all the same."""
        if ch.authenticator != "PASSKEY":
            raise Unauthenticated("The challenge token is invalid or was already used.",
                                  reason="invalid_token")
        try:
            return await discoverable_user(db, answer)
        except VerificationError as exc:
            failure = exc
        async with self.core.write() as wdb:
            await self.core.challenges.claim(wdb, challenge_id=ch.id, now=now)
            audit.record(wdb, event="complete", outcome="failure", reason=failure.reason,
                         now=now, application_id=app.id, authenticator="PASSKEY",
                         client_ip=caller.client_ip)
        raise Unauthenticated("Authentication failed.", reason=failure.reason)

    async def _success(self, ctx: FactorContext, amr: list[str]) -> authn.AuthenticatedResponse:
        issued = await issue_session(
            ctx.db, self.core.signer, user_pk=ctx.user.pk, user_id=ctx.user.user_id,
            application_id=ctx.app.id, amr=amr, ttl_seconds=ctx.policy.session_seconds,
            now=ctx.now,
        )
        response = authn.AuthenticatedResponse(
            authentication_completed=True, token=issued.token, expires=_ms(issued.expires_at),
            user_id=ctx.user.user_id,
        )
        if ctx.user.first_name:
            response.first_name = ctx.user.first_name
        if ctx.user.last_name:
            response.last_name = ctx.user.last_name
        return response

    # -- logout ------------------------------------------------------------

    async def logout(self, authorization: str, caller: Caller) -> None:
        token = bare_token(authorization)
        if not token:
            raise Unauthenticated("A session token is required.", reason="missing_token")
        now = self.core.clock()
        async with self.core.write() as db:
            claims, session = await verify_session(db, self.core.signer, token, now=now)
            await revoke_session(db, session_id=session.id, now=now)
            audit.record(db, event="logout", outcome="success", now=now,
                         application_id=session.application_id, user_id=str(claims.get("sub")),
                         client_ip=caller.client_ip)


def _locked_error(name: str) -> PermissionDenied:
    return PermissionDenied(f"The {name} authenticator is locked after too many failed attempts.",
                            reason="authenticator_locked")


def _check_challenge_user(user: User, user_id: str) -> None:
    if user_id and user_id != user.user_id:
        raise Unauthenticated("The challenge token was issued to another user.",
                              reason="challenge_mismatch")
    if not user.active:
        raise PermissionDenied("The user is disabled.", reason="user_disabled")


def _copy_challenge(src: authn.AuthenticatedResponse,
                    dst: authn.QueryUserAuthenticatorsResponse) -> None:
    """Put a default challenge into the query response (returnDefaultChallenge)."""
    dst.token = src.token
    dst.expires = src.expires
    for field in ("grid_challenge", "kba_challenge", "token_challenge",
                  "temp_access_code_challenge", "password_challenge", "fido_challenge"):
        if src.HasField(field):
            getattr(dst, field).CopyFrom(getattr(src, field))
    if src.HasField("otpdelivery_type"):
        dst.otp_delivery_type = src.otpdelivery_type
    del dst.token_details[:]
    dst.token_details.extend(src.token_details)


__all__ = ["AuthenticationFlow", "Caller", "common"]

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

from authcore.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Unimplemented,
)
from authcore.flows import audit
from authcore.flows.challenges import ChallengeRecord, KeepChallenge, bare_token
from authcore.flows.context import Core
from authcore.flows.factors import FACTORS, SECOND_FACTORS
from authcore.flows.factors.base import (
    SUCCESS_RESPONSE,
    Effect,
    FactorContext,
    FailureWithEffect,
    Started,
    StartInput,
)
from authcore.flows.factors.external import (
    VERIFIER_FACTORS,
    ghost_consult,
    offered_to_ghosts,
    passthrough_pairs,
    result_response,
)
from authcore.flows.factors.fido import (
    FidoAnswer,
    assertion_json,
    check_relying_party,
    discoverable_user,
    start_discoverable,
)
from authcore.flows.factors.idp import IdpFactor
from authcore.flows.factors.idp import offered as idp_offered
from authcore.flows.factors.machine import (
    MachineAnswer,
    machine_settings,
    pending_registration,
    register,
    user_machine_settings,
)
from authcore.flows.factors.otp import delivery_info
from authcore.flows.factors.push import (
    PUSH_FACTORS,
    PushEnded,
    PushNotAnswered,
    push_fields,
    user_push_devices,
)
from authcore.flows.factors.refused import REFUSED, refused_error
from authcore.flows.factors.token import user_tokens
from authcore.flows.factors.token_cr import ocra_tokens
from authcore.flows.ghosts import burn_password_time, ghost_authenticators, ghost_id
from authcore.flows.names import AUTHENTICATOR_ORDER, OTP_DELIVERY, type_name, type_value
from authcore.flows.policy import AppPolicy, app_policy, grant
from authcore.limits.lockout import LockoutState, is_locked, remaining_attempts
from authcore.store.hot import HotTx
from authcore.store.hot import queries as hq
from authcore.store.hot.queries import AppRow, UserRow
from authcore.tokens.sessions import (
    SignedSession,
    revoke_session,
    sign_session,
    verify_session,
    verify_session_hot,
)
from authcore.v1 import authentication_pb2 as authn
from authcore.v1 import authenticators_pb2 as common
from authcore.verify.errors import VerificationError

P2F = "PASSWORD_AND_SECONDFACTOR"
IDP2F = "IDP_AND_SECONDFACTOR"
# The two-step authenticators and the factor of their first step; the second
# step is the same mechanism for both (stages FIRST → SECOND_SELECT → SECOND).
FIRST_FACTOR = {P2F: "PASSWORD", IDP2F: "IDP"}
# Authenticators whose challenge the query response has no field for
# (Entrust's UserAuthenticateQueryResponse: no redirectUrl, no
# userCertificateChallenge, no magicLinkType): never a returnDefaultChallenge
# (a query must not email a link the client can't tell was sent).
NO_DEFAULT_CHALLENGE = ("IDP", IDP2F, "USER_CERTIFICATE", "MAGICLINK")

# Stages of a challenge row.
SINGLE = "single"
FIRST = "first"
SECOND_SELECT = "second_select"
SECOND = "second"

# Authenticators answered with a WebAuthn assertion (fidoResponse).
WEBAUTHN = ("FIDO", "PASSKEY")


@dataclass(frozen=True)
class Caller:
    """Who is calling, from the transport: used for rate limits and audit.
    `host` is the host name the client asked for (REST's Host, or a proxy's
    X-Forwarded-Host), where a flow reads it (LoginID finds its application
    there, services/peer.loginid_caller); empty elsewhere."""

    client_ip: str
    host: str = ""


def _ms(epoch_seconds: float) -> int:
    # Entrust's `expires` is epoch milliseconds, as Java's Date#getTime.
    return int(epoch_seconds * 1000)


class AuthenticationFlow:
    """Every call here but logout is a hot path: reads on the raw driver
    (store/hot/queries.py), then at most one write transaction
    (`core.hot.transaction()`) holding the challenge claim, the factor's
    compare-and-set, the lockout update, the session and the audit row."""

    def __init__(self, core: Core) -> None:
        self.core = core

    # -- helpers -----------------------------------------------------------

    def _ctx(self, app: AppRow, user: UserRow, now: float) -> FactorContext:
        return FactorContext(core=self.core, app=app, policy=app_policy(app.settings),
                             user=user, now=now)

    @staticmethod
    def _requested(value: int, *, field: str) -> str:
        name = type_name(value)
        if not name:
            raise InvalidArgument("Unknown authenticator.", reason="invalid_authenticator",
                                  field_violations=[(field, "unknown authenticator")])
        if name in REFUSED:
            raise refused_error(name)
        if name not in FIRST_FACTOR and name not in FACTORS:
            raise Unimplemented(f"The {name} authenticator is not supported yet.",
                                reason="authenticator_not_supported")
        return name

    @staticmethod
    def _allowed(app: AppRow, name: str) -> None:
        if name not in app.authenticators:
            raise PermissionDenied(f"The application does not allow {name}.",
                                   reason="authenticator_not_allowed")

    async def _app_and_user(self, application_id: str, user_id: str
                            ) -> tuple[AppRow, UserRow | None]:
        """The application and the user the request names, in one statement;
        the application's errors now, the user's by `_require_user`."""
        if not application_id:
            raise InvalidArgument("applicationId is required.", reason="missing_field",
                                  field_violations=[("applicationId", "is required")])
        found = await hq.load_application_and_user(self.core.hot, app_id=application_id[:36],
                                                   user_id=user_id)
        if found is None:
            raise NotFound("The application was not found.", reason="application_not_found")
        return found

    async def _available(self, ctx: FactorContext) -> list[str]:
        """Authenticators the user has and the application allows, in the
        Entrust enum's order."""
        have = {name for name, f in FACTORS.items() if await f.available(ctx)}
        for two_step, first in FIRST_FACTOR.items():
            if first in have and have.intersection(SECOND_FACTORS):
                have.add(two_step)
        return [n for n in AUTHENTICATOR_ORDER if n in have and n in ctx.app.authenticators]

    async def _is_available(self, ctx: FactorContext, name: str) -> bool:
        """`name in await self._available(ctx)`, reading only what `name` needs."""
        if name not in ctx.app.authenticators:
            return False
        if name not in FIRST_FACTOR:
            return await FACTORS[name].available(ctx)
        if not await FACTORS[FIRST_FACTOR[name]].available(ctx):
            return False
        for second in SECOND_FACTORS:
            if await FACTORS[second].available(ctx):
                return True
        return False

    @staticmethod
    def _ghost(app: AppRow, user_id: str, found: UserRow | None) -> str | None:
        """The name asked for, when it is no account and the application
        hides that (flows/ghosts.py); None to answer as usual."""
        if found is None and user_id and app_policy(app.settings).hide_user_existence:
            return user_id
        return None

    async def _ghost_states(self, ghost: str, names: list[str], now: float
                            ) -> dict[str, LockoutState]:
        gid = ghost_id(self.core.code_key, ghost)
        out = {}
        for name in names:
            state = await self.core.ghosts.state(gid, name, now=now)
            if state.failures or state.locked_at is not None:
                out[name] = state
        return out

    @staticmethod
    def _check_not_locked(states: dict[str, LockoutState], name: str, now: float) -> None:
        state = states.get(name)
        if state is not None and is_locked(state=state, now=now):
            raise _locked_error(name)

    async def _issue(
        self, tx: HotTx, app: AppRow, policy: AppPolicy, user_pk: str | None, now: float, *,
        authenticator: str, stage: str, started: Started,
        extra_state: dict[str, object] | None = None,
    ) -> authn.AuthenticatedResponse:
        ttl = float(policy.challenge_seconds)
        if started.ttl_seconds is not None:
            ttl = min(ttl, started.ttl_seconds)
        state = {"factor_state": started.state, **(extra_state or {})}
        token, expires_at = await self.core.challenges.hot_create(
            tx, application_id=app.id, user_pk=user_pk, authenticator=authenticator,
            stage=stage, state=state, ttl_seconds=ttl, now=now,
        )
        if started.effect is not None:
            await started.effect(tx)
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
        app, found = await self._app_and_user(req.application_id, req.user_id)
        ghost = self._ghost(app, req.user_id, found)
        if ghost is not None:
            return await self._ghost_query(app, req, ghost, now, caller)
        user = _require_user(req.user_id, found)
        ctx = self._ctx(app, user, now)
        available = await self._available(ctx)
        states = await self.core.lockouts.hot_states(self.core.hot, user_pk=user.pk)
        out = authn.QueryUserAuthenticatorsResponse(
            authentication_types=[type_value(n) for n in available],
        )
        self._lockout_status(out, available, states, now)
        if P2F in available or IDP2F in available:
            out.available_second_factor.extend(
                type_value(n) for n in available if n in SECOND_FACTORS)
        if "OTP" in available:
            out.otp_delivery_info.CopyFrom(delivery_info(user))
        if "TOKEN" in available:
            out.token_details.extend(t.serial_number for t in await user_tokens(ctx))
        if "TOKENCR" in available:
            out.token_details.extend(t.serial_number for t, _ in await ocra_tokens(ctx))
        if "TOKENPUSH" in available:
            out.token_details.extend(d.serial_number
                                     for d in await user_push_devices(ctx, "TOKENPUSH"))
        out.registration_required = not available
        machines = await user_machine_settings(ctx)
        if machines is not None:
            out.user_machine_settings.CopyFrom(machines)
        if req.HasField("auth_token") and req.auth_token:
            claims, session_user_pk = await verify_session_hot(
                self.core.hot, self.core.signer, bare_token(req.auth_token), now=now)
            if session_user_pk != user.pk or claims.get("aud") != app.id:
                raise Unauthenticated("The token belongs to another user or application.",
                                      reason="token_mismatch")
            out.authentication_completed = True
        elif (req.return_default_challenge and available
              and available[0] not in NO_DEFAULT_CHALLENGE):
            default = available[0]
            started = await self._start(ctx, default, StartInput(client_ip=caller.client_ip,
                                                                 **push_fields(req)), states)
            async with self.core.hot.transaction() as tx:
                response = await self._issue_started(tx, ctx, default, started)
            _copy_challenge(response, out)
        return out

    def _lockout_status(self, out: authn.QueryUserAuthenticatorsResponse, available: list[str],
                        states: dict[str, LockoutState], now: float) -> None:
        for name in available:
            if name in FIRST_FACTOR:
                continue
            state = states.get(name, LockoutState.clear())
            status = out.authenticator_lockout_status.add(
                type=type_value(name),
                locked=is_locked(state=state, now=now),
                remaining_authentication_attempts=remaining_attempts(
                    state=state, policy=self.core.settings.lockout, now=now),
            )
            if status.locked and state.locked_at is not None:
                status.lockout_date.FromSeconds(int(state.locked_at))
                if state.lockout_expires_at is not None:
                    status.lockout_expiry_date.FromSeconds(int(state.lockout_expires_at))

    async def _ghost_query(
        self, app: AppRow, req: authn.QueryUserAuthenticatorsRequest, ghost: str, now: float,
        caller: Caller,
    ) -> authn.QueryUserAuthenticatorsResponse:
        """What `query` answers for a user with a password and nothing else."""
        available = await self._ghost_available(app)
        states = await self._ghost_states(ghost, available, now)
        out = authn.QueryUserAuthenticatorsResponse(
            authentication_types=[type_value(n) for n in available])
        self._lockout_status(out, available, states, now)
        out.registration_required = not available
        if "MACHINE" in app.authenticators:
            out.user_machine_settings.CopyFrom(
                machine_settings(app, app_policy(app.settings), []))
        if req.HasField("auth_token") and req.auth_token:
            # Any valid session is someone else's.
            await verify_session_hot(self.core.hot, self.core.signer,
                                     bare_token(req.auth_token), now=now)
            raise Unauthenticated("The token belongs to another user or application.",
                                  reason="token_mismatch")
        if (req.return_default_challenge and available
                and available[0] not in NO_DEFAULT_CHALLENGE):
            self._check_not_locked(states, available[0], now)
            async with self.core.hot.transaction() as tx:
                response = await self._issue_ghost(tx, app, ghost, available[0], now)
            _copy_challenge(response, out)
        return out

    async def _issue_ghost(self, tx: HotTx, app: AppRow, ghost: str, name: str,
                           now: float, started: Started | None = None,
                           inp: StartInput | None = None
                           ) -> authn.AuthenticatedResponse:
        # No user row: the name rides in the state, for complete's checks.
        state = {"placeholders": [list(p) for p in inp.passthrough]} if inp else {}
        return await self._issue(tx, app, app_policy(app.settings), None, now,
                                 authenticator=name, stage=SINGLE,
                                 started=started or Started(
                                     state=state, response=authn.AuthenticatedResponse()),
                                 extra_state={"ghost": ghost})

    async def _ghost_available(self, app: AppRow) -> list[str]:
        names = ghost_authenticators(app.authenticators)
        if await idp_offered(self.core, app):
            # IDP needs nothing enrolled, so every account has it: a ghost
            # must have it too, and get a real authorization URL.
            names.append("IDP")
        # Likewise EXTERNAL and PASSTHROUGH: every user of an application
        # with a verifier has them.
        names.extend(await offered_to_ghosts(self.core, app))
        return [n for n in AUTHENTICATOR_ORDER if n in names]

    @staticmethod
    def _idp() -> IdpFactor:
        factor = FACTORS["IDP"]
        assert isinstance(factor, IdpFactor)
        return factor

    # -- challenge ---------------------------------------------------------

    async def _start(
        self, ctx: FactorContext, name: str, inp: StartInput, states: dict[str, LockoutState]
    ) -> Started:
        factor = FIRST_FACTOR.get(name, name)
        self._check_not_locked(states, factor, ctx.now)
        return await FACTORS[factor].start(ctx, inp)

    async def _issue_started(self, tx: HotTx, ctx: FactorContext, name: str,
                             started: Started) -> authn.AuthenticatedResponse:
        return await self._issue(tx, ctx.app, ctx.policy, ctx.user.pk, ctx.now,
                                 authenticator=name,
                                 stage=FIRST if name in FIRST_FACTOR else SINGLE,
                                 started=started)

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
            client_ip=caller.client_ip,
            passthrough=passthrough_pairs(req.passthrough_authenticator_parms),
            **push_fields(req),
        )
        second = name in FIRST_FACTOR and req.HasField("second_factor_authenticator")
        discoverable = name == "PASSKEY" and not req.user_id
        app, found = await self._app_and_user(req.application_id, req.user_id)
        self._allowed(app, name)
        if name in WEBAUTHN:
            check_relying_party(app, rp_id=req.rp_id, origin=req.origin)
        if second:
            return await self._second_factor_challenge(app, req, inp, now, caller, name)
        if discoverable:
            return await self._discoverable_challenge(app, now, caller)
        ghost = self._ghost(app, req.user_id, found)
        if ghost is not None:
            return await self._ghost_challenge(app, ghost, name, now, caller, inp)
        user = _require_user(req.user_id, found)
        ctx = self._ctx(app, user, now)
        if not await self._is_available(ctx, name):
            raise FailedPrecondition(f"The user has no usable {name} authenticator.",
                                     reason="authenticator_not_enrolled")
        states = await self.core.lockouts.hot_states(self.core.hot, user_pk=user.pk)
        started = await self._start(ctx, name, inp, states)
        machines = await user_machine_settings(ctx)
        async with self.core.hot.transaction() as tx:
            response = await self._issue_started(tx, ctx, name, started)
            await audit.hot_record(tx, event="challenge", outcome="issued", now=now,
                                   application_id=app.id, user_id=user.user_id,
                                   authenticator=name, client_ip=caller.client_ip)
        if machines is not None:
            response.user_machine_settings.CopyFrom(machines)
        return response

    async def _ghost_challenge(self, app: AppRow, ghost: str, name: str, now: float,
                               caller: Caller, inp: StartInput
                               ) -> authn.AuthenticatedResponse:
        """`challenge` for a name that is no account, answered as for a user
        with only a password."""
        if name not in await self._ghost_available(app):
            raise FailedPrecondition(f"The user has no usable {name} authenticator.",
                                     reason="authenticator_not_enrolled")
        self._check_not_locked(await self._ghost_states(ghost, [name], now), name, now)
        started = None
        if name == "IDP":
            started = await self._idp().start_for(
                self.core, await hq.entrust_idp_provider(self.core.hot, app.id))
        async with self.core.hot.transaction() as tx:
            response = await self._issue_ghost(tx, app, ghost, name, now, started, inp)
            await audit.hot_record(tx, event="challenge", outcome="issued", now=now,
                                   application_id=app.id, user_id=ghost[:255],
                                   authenticator=name, client_ip=caller.client_ip)
        if "MACHINE" in app.authenticators:
            response.user_machine_settings.CopyFrom(
                machine_settings(app, app_policy(app.settings), []))
        return response

    async def _discoverable_challenge(
        self, app: AppRow, now: float, caller: Caller,
    ) -> authn.AuthenticatedResponse:
        """A PASSKEY challenge for whoever holds a passkey of the application's
        relying party: no user yet, empty allowCredentials."""
        started = start_discoverable(app)
        async with self.core.hot.transaction() as tx:
            response = await self._issue(tx, app, app_policy(app.settings), None, now,
                                         authenticator="PASSKEY", stage=SINGLE,
                                         started=started)
            await audit.hot_record(tx, event="challenge", outcome="issued", now=now,
                                   application_id=app.id, authenticator="PASSKEY",
                                   client_ip=caller.client_ip)
        return response

    async def passkey_challenge(
        self, req: authn.RequestPasskeyChallengeRequest, caller: Caller
    ) -> authn.RequestPasskeyChallengeResponse:
        """The deprecated /authentication/passkey: a discoverable PASSKEY
        challenge, completed like any PASSKEY challenge."""
        await self.core.rate_limit(client_ip=caller.client_ip)
        now = self.core.clock()
        app, _ = await self._app_and_user(req.application_id, "")
        self._allowed(app, "PASSKEY")
        check_relying_party(app, rp_id=req.rp_id, origin=req.origin)
        response = await self._discoverable_challenge(app, now, caller)
        return authn.RequestPasskeyChallengeResponse(fido_challenge=response.fido_challenge,
                                                     token=response.token)

    async def _second_factor_challenge(
        self, app: AppRow, req: authn.RequestUserChallengeRequest, inp: StartInput,
        now: float, caller: Caller, name: str = P2F,
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
        first, user, _ = await self.core.challenges.hot_load(
            self.core.hot, token=bare_token(req.auth_token), now=now)
        if (first.stage != SECOND_SELECT or first.application_id != app.id
                or first.authenticator != name):
            raise Unauthenticated("authToken is not a second-factor token of this application.",
                                  reason="challenge_mismatch")
        if user is None:
            raise Unauthenticated("The challenge token is invalid.", reason="invalid_token")
        _check_challenge_user(user, req.user_id)
        ctx = self._ctx(app, user, now)
        if not await self._is_available(ctx, second):
            raise FailedPrecondition(f"The user has no usable {second} authenticator.",
                                     reason="authenticator_not_enrolled")
        self._check_not_locked(
            await self.core.lockouts.hot_states(self.core.hot, user_pk=user.pk), second, now)
        started = await FACTORS[second].start(ctx, inp)
        machines = await user_machine_settings(ctx)
        async with self.core.hot.transaction() as tx:
            await self.core.challenges.hot_claim(tx, challenge_id=first.id, now=now)
            response = await self._issue(tx, app, ctx.policy, user.pk, now, authenticator=name,
                                         stage=SECOND, started=started,
                                         extra_state={"factor": second})
            await audit.hot_record(tx, event="challenge", outcome="issued", now=now,
                                   application_id=app.id, user_id=user.user_id,
                                   authenticator=f"{name}:{second}", client_ip=caller.client_ip)
        if machines is not None:
            response.user_machine_settings.CopyFrom(machines)
        return response

    # -- complete ----------------------------------------------------------

    async def complete(
        self, req: authn.AuthenticateUserChallengeRequest, authorization: str, caller: Caller
    ) -> authn.AuthenticatedResponse:
        """Check the challenge and verify the answer (reads + CPU), then one
        short write transaction that uses the challenge up and records the
        outcome. No verification runs while the write lock is held."""
        name = self._requested(req.authenticator, field="authenticator")
        now = self.core.clock()
        answer = MachineAnswer(
            response=req.response if req.HasField("response") else None,
            new_password=req.new_password if req.HasField("new_password") else None,
            kba_answers={q.id: q.answer for q in req.kba_challenge.user_questions},
            fido=assertion_json(req.fido_response) if req.HasField("fido_response") else None,
            machine=req.machine_authenticator if req.HasField("machine_authenticator") else None,
            certificate_code=req.user_certificate_response.code or None,
            certificate_verifier=req.user_certificate_response.verifier or None,
            passthrough=passthrough_pairs(req.passthrough_authenticator_parms),
        )
        hot = self.core.hot
        ch, bound, app, opened_states = await self.core.open_challenge(
            token=bare_token(authorization), client_ip=caller.client_ip,
            user_key=req.user_id, now=now)
        if ch.authenticator != name or (
            req.application_id and req.application_id != ch.application_id
        ):
            raise Unauthenticated("The challenge token does not match this request.",
                                  reason="challenge_mismatch")
        if name in WEBAUTHN:
            check_relying_party(app, rp_id=req.rp_id, origin=req.origin)
        if bound is None and isinstance(ch.state.get("ghost"), str):
            return await self._ghost_complete(ch, app, req, answer, now, caller)
        if bound is None:
            if req.cancel:
                return await self._cancel(ch, app, None, name, now, caller)
            user = await self._discoverable_user(ch, app, answer, now, caller)
            opened_states = None
            if not req.user_id:
                await self.core.rate_limit(user_key=user.user_id)
        else:
            user = bound
        _check_challenge_user(user, req.user_id)
        if ch.stage == SECOND_SELECT and not req.cancel:
            raise FailedPrecondition(
                "Request the second factor's challenge with secondFactorAuthenticator "
                "and this token as authToken first.", reason="second_factor_required")
        factor_name = {SINGLE: name, FIRST: FIRST_FACTOR.get(name, "")}.get(ch.stage) or str(
            ch.state.get("factor"))
        if (ch.stage == SECOND and req.HasField("second_factor_authenticator")
                and type_name(req.second_factor_authenticator) != factor_name):
            raise Unauthenticated("secondFactorAuthenticator does not match the challenge.",
                                  reason="challenge_mismatch")
        if req.cancel:
            return await self._cancel(ch, app, user.user_id, name, now, caller)
        if factor_name not in FACTORS:
            # Another flow's challenge of the same type (LoginID's OIDC login
            # state is an IDP challenge too).
            raise Unauthenticated("The challenge token does not match this request.",
                                  reason="challenge_mismatch")
        ctx = self._ctx(app, user, now)
        machine = pending_registration(req, app=app, policy=ctx.policy, factor=factor_name,
                                       issues_session=ch.stage != FIRST, key=self.core.code_key)
        failure: VerificationError | None = None
        effect: Effect | None = None
        failure_effect: Effect | None = None
        states = (opened_states if opened_states is not None
                  else await self.core.lockouts.hot_states(hot, user_pk=user.pk))
        had_failures = factor_name in states
        self._check_not_locked(states, factor_name, now)
        try:
            effect = await FACTORS[factor_name].finish(ctx, ch.state.get("factor_state", {}),
                                                       answer)
        except VerificationError as exc:
            failure = exc
        except FailureWithEffect as failed:
            failure, failure_effect = failed.error, failed.effect
        except KeepChallenge as keep:
            # Not used up: the client completes again on the same token.
            raise keep.error from None
        except PushNotAnswered as pending:
            # Polled before the device answered: the same token polls again.
            return pending.response
        except PushEnded as ended:
            await self._cancel(ch, app, user.user_id, factor_name, now, caller)
            raise ended.error from None
        # Signed before the write transaction, so signing never holds the
        # write lock; discarded if the transaction refuses the success.
        signed: SignedSession | None = None
        amr = [FIRST_FACTOR[name], factor_name] if ch.stage == SECOND else [factor_name]
        if failure is None and ch.stage != FIRST:
            signed = await sign_session(
                hot, self.core.signer, user_pk=user.pk, user_id=user.user_id,
                grant=grant(application_id=app.id, allowed=app.authenticators, factors=amr),
                amr=amr, ttl_seconds=ctx.policy.session_seconds, now=now)

        log_event = functools.partial(audit.hot_record, now=now, application_id=app.id,
                                      user_id=user.user_id, client_ip=caller.client_ip,
                                      authenticator=factor_name)
        async with hot.transaction() as tx:
            if effect is not None and failure is None:
                try:
                    await effect(tx)
                except VerificationError as exc:
                    failure = exc
            if failure_effect is not None:
                await failure_effect(tx)
            # Using the challenge up in the same transaction as the outcome
            # (and, with Redis, in the same script as the lockout counter):
            # of several concurrent completes only one can commit, so a
            # challenge yields at most one success or one counted failure.
            lockout, refused = await self.core.close_challenge(
                tx, challenge_id=ch.id, now=now, user_pk=user.pk, authenticator=factor_name,
                outcome="F" if failure else "S", policy=ctx.core.settings.lockout,
                had_failures=had_failures)
            if failure is None:
                if refused:
                    # Locked by attempts that finished meanwhile: no success.
                    raise _locked_error(factor_name)
                await log_event(tx, event="complete", outcome="success")
                if signed is None:  # the first step of a two-step authenticator
                    return await self._issue(
                        tx, app, ctx.policy, user.pk, now, authenticator=name,
                        stage=SECOND_SELECT,
                        started=Started(state={}, response=authn.AuthenticatedResponse()))
                await signed.store(tx)
                response = _success(user, signed)
                if SUCCESS_RESPONSE in ctx.memo:
                    response.MergeFrom(ctx.memo[SUCCESS_RESPONSE])
                extra = result_response(ctx)
                if extra is not None:
                    response.MergeFrom(extra)
                if factor_name in PUSH_FACTORS and not answer.response:
                    response.status = authn.PUSH_STATUS_CONFIRM
                if machine is not None:
                    await register(tx, machine, user_pk=user.pk, policy=ctx.policy, now=now,
                                   response=response)
                    await log_event(tx, event="machine_registered", outcome="success")
                return response
            await log_event(tx, event="complete", outcome="refused" if refused else "failure",
                            reason="authenticator_locked" if refused else failure.reason)
        if refused:
            raise _locked_error(factor_name)
        assert lockout is not None
        left = remaining_attempts(state=lockout, policy=ctx.core.settings.lockout, now=now)
        raise Unauthenticated(
            "Authentication failed." + (" The authenticator is now locked." if left == 0 else ""),
            reason=failure.reason,
            metadata={"remainingAuthenticationAttempts": str(left)},
        )

    async def _ghost_complete(self, ch: ChallengeRecord, app: AppRow,
                              req: authn.AuthenticateUserChallengeRequest, answer: FidoAnswer,
                              now: float, caller: Caller) -> authn.AuthenticatedResponse:
        """`complete` of a ghost's PASSWORD (or IDP) challenge: the checks,
        the argon2 (or the callback's verification) and the writes of a
        wrong answer (the claim, the counter, the audit row), and its answer."""
        ghost = str(ch.state["ghost"])
        name = ch.authenticator
        if req.user_id and req.user_id != ghost:
            raise Unauthenticated("The challenge token was issued to another user.",
                                  reason="challenge_mismatch")
        if req.cancel:
            return await self._cancel(ch, app, ghost[:255], name, now, caller)
        gid = ghost_id(self.core.code_key, ghost)
        self._check_not_locked(await self._ghost_states(ghost, [name], now), name, now)
        reason = "invalid_password"
        if name == "IDP":
            # Whoever signed in at the provider, it is not this nobody.
            reason = "identity_mismatch"
            try:
                await self._idp().verify_callback(self.core, app, now,
                                                  ch.state.get("factor_state", {}), answer)
            except VerificationError as exc:
                reason = exc.reason
        elif name in VERIFIER_FACTORS:
            await ghost_consult(self.core, app, ghost, ch.state.get("factor_state", {}), answer,
                                authenticator=name)
            reason = "external_rejected"
        elif answer.response:
            await burn_password_time(self.core, answer.response)
        policy = self.core.settings.lockout
        async with self.core.hot.transaction() as tx:
            await self.core.close_challenge(tx, challenge_id=ch.id, now=now)
            counted = await self.core.ghosts.record_failure(gid, name, policy=policy, now=now)
            await audit.hot_record(
                tx, event="complete", outcome="refused" if counted.refused else "failure",
                reason="authenticator_locked" if counted.refused else reason,
                now=now, application_id=app.id, user_id=ghost[:255],
                client_ip=caller.client_ip, authenticator=name)
        if counted.refused:
            raise _locked_error(name)
        left = remaining_attempts(state=counted.state, policy=policy, now=now)
        raise Unauthenticated(
            "Authentication failed." + (" The authenticator is now locked." if left == 0 else ""),
            reason=reason,
            metadata={"remainingAuthenticationAttempts": str(left)},
        )

    async def _cancel(self, ch: ChallengeRecord, app: AppRow, user_id: str | None,
                      name: str, now: float, caller: Caller) -> authn.AuthenticatedResponse:
        async with self.core.hot.transaction() as tx:
            await self.core.close_challenge(tx, challenge_id=ch.id, now=now)
            await audit.hot_record(tx, event="complete", outcome="cancelled", now=now,
                                   application_id=app.id, user_id=user_id, authenticator=name,
                                   client_ip=caller.client_ip)
        return authn.AuthenticatedResponse(authentication_completed=False)

    async def _discoverable_user(self, ch: ChallengeRecord, app: AppRow, answer: FidoAnswer,
                                 now: float, caller: Caller) -> UserRow:
        """The user of a challenge issued without one (only a discoverable
        PASSKEY challenge is), named by the assertion. When none is found
        there is nobody to count the failure against; the challenge is used
        up all the same."""
        if ch.authenticator != "PASSKEY":
            raise Unauthenticated("The challenge token is invalid or was already used.",
                                  reason="invalid_token")
        try:
            return await discoverable_user(self.core.hot, answer)
        except VerificationError as exc:
            failure = exc
        async with self.core.hot.transaction() as tx:
            await self.core.close_challenge(tx, challenge_id=ch.id, now=now)
            await audit.hot_record(tx, event="complete", outcome="failure",
                                   reason=failure.reason, now=now, application_id=app.id,
                                   authenticator="PASSKEY", client_ip=caller.client_ip)
        raise Unauthenticated("Authentication failed.", reason=failure.reason)

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


def _require_user(user_id: str, user: UserRow | None) -> UserRow:
    if not user_id:
        raise InvalidArgument("userId is required.", reason="missing_field",
                              field_violations=[("userId", "is required")])
    if user is None:
        raise NotFound("The user was not found.", reason="user_not_found")
    if not user.active:
        raise PermissionDenied("The user is disabled.", reason="user_disabled")
    return user


def _success(user: UserRow, signed: SignedSession) -> authn.AuthenticatedResponse:
    response = authn.AuthenticatedResponse(
        authentication_completed=True, token=signed.token, expires=_ms(signed.expires_at),
        user_id=user.user_id,
    )
    if user.first_name:
        response.first_name = user.first_name
    if user.last_name:
        response.last_name = user.last_name
    return response


def _locked_error(name: str) -> PermissionDenied:
    return PermissionDenied(f"The {name} authenticator is locked after too many failed attempts.",
                            reason="authenticator_locked")


def _check_challenge_user(user: UserRow, user_id: str) -> None:
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
    if src.HasField("push_mutual_challenge"):
        dst.push_mutual_challenge = src.push_mutual_challenge
        dst.token_push_mutual_challenge = src.token_push_mutual_challenge
    del dst.token_details[:]
    dst.token_details.extend(src.token_details)


__all__ = ["AuthenticationFlow", "Caller", "common"]

"""Axidian Access logon v5: which methods a user has, verify sessions,
templates and the session token.

The shape of the API: `openVerifySession` picks a user and a method (a
"mode", named by a fixed GUID) and starts it (an OTP is sent now);
`prepareTemplateData` hands over the credential, which is kept sealed in the
session's row; `createTemplate` verifies it and turns the session into a
TemplateId; `authenticate` turns the TemplateId into a session JWT.

Everything underneath is the core the Entrust flow uses: the same factors
(flows/factors), challenge rows (flows/challenges), lockout counters
(flows/lockouts) and rate limits, so failures count the same whichever API
they come through. Verify sessions and templates are challenges of their
own stages; both are single-use (an atomic claim) and expire.

SessionId and TemplateId are random GUIDs (uuid4: 122 random bits), because
the documented TemplateId is a GUID and .NET clients bind it as one. Like any
challenge token, only their SHA-256 is stored. GUIDs are accepted in any
case and in .NET's D, N, B and P formats.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from authcore.axidian.v5 import logon_pb2 as pb
from authcore.crypto.seal import SealError
from authcore.errors import (
    FailedPrecondition,
    InvalidArgument,
    PermissionDenied,
    Unauthenticated,
)
from authcore.flows import audit
from authcore.flows.authentication import Caller
from authcore.flows.challenges import ChallengeRecord, KeepChallenge
from authcore.flows.context import Core
from authcore.flows.directory import hot_active_user, hot_application
from authcore.flows.factors import FACTORS
from authcore.flows.factors.base import Answer, Effect, FactorContext, StartInput
from authcore.flows.factors.otp import channels
from authcore.flows.ghosts import burn_password_time, ghost_authenticators, ghost_id
from authcore.flows.kerberos import windows_logon
from authcore.flows.policy import app_policy, grant
from authcore.limits.lockout import LockoutState, is_locked, remaining_attempts
from authcore.store.hot import HotTx
from authcore.store.hot import queries as hq
from authcore.store.hot.queries import AppRow, UserRow
from authcore.store.models import Application, User
from authcore.tokens.sessions import sign_session
from authcore.verify.errors import VerificationError

# -- modes -------------------------------------------------------------------

# The domain password, as Axidian documents it.
PASSWORD = "cf189af5-01c5-469d-a859-a8f2f41ed153"  # noqa: S105 (a GUID, not a secret)
# authcore's own modes: uuid5(NAMESPACE_URL, "https://authcore.dev/axidian/mode/<NAME>"),
# computed once; they must never change (clients store them).
TOTP = "92407cee-c79e-5d69-8b85-89cbd0c42e8c"
OTP_SMS = "e71b08cf-6ec5-584a-9222-27fcc9da97f8"
OTP_EMAIL = "5467a1db-54fc-52ad-a797-2a09d550a343"


@dataclass(frozen=True)
class Mode:
    guid: str
    name: str
    # The authcore factor (FACTORS key) that verifies it.
    factor: str
    # For OTP: the delivery channel (flows.factors.otp).
    delivery: str | None = None


# In the order getAvailableMethods lists them.
MODES: tuple[Mode, ...] = (
    Mode(PASSWORD, "PASSWORD", "PASSWORD"),
    Mode(TOTP, "TOTP", "TOKEN"),
    Mode(OTP_SMS, "OTP_SMS", "OTP", "SMS"),
    Mode(OTP_EMAIL, "OTP_EMAIL", "OTP", "EMAIL"),
)
MODES_BY_GUID = {m.guid: m for m in MODES}

# Stages of the challenge rows this API creates.
SESSION_STAGE = "axidian_session"
TEMPLATE_STAGE = "axidian_template"
TEMPLATE_SECONDS = 60.0
MAX_DATA_CHARS = 1024

_HEX = "[0-9a-fA-F]"
_GUID = re.compile(
    rf"(?P<d>{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}})"
    rf"|\{{(?P<b>{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}})\}}"
    rf"|\((?P<p>{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}})\)"
    rf"|(?P<n>{_HEX}{{32}})"
)


def parse_guid(value: str) -> str | None:
    """The canonical (lowercase, hyphenated) form of a GUID in one of .NET's
    D, N, B or P formats, surrounding whitespace allowed; None otherwise."""
    match = _GUID.fullmatch(value.strip())
    if match is None:
        return None
    return str(uuid.UUID(next(g for g in match.groups() if g)))


def _guid(value: str, field: str) -> str:
    guid = parse_guid(value)
    if guid is None:
        raise InvalidArgument(f"{field} must be a GUID.", reason="invalid_guid",
                              field_violations=[(field, "must be a GUID")])
    return guid


def _guids(values: Any, field: str) -> set[str]:
    return {_guid(v, f"{field}[{i}]") for i, v in enumerate(values)}


def _require(*fields: tuple[str, str]) -> None:
    """InvalidArgument naming every empty field (JSON name, value)."""
    missing = [name for name, value in fields if not value]
    if missing:
        raise InvalidArgument(f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} "
                              "required.", reason="missing_field",
                              field_violations=[(name, "is required") for name in missing])


def _session_aad(challenge_id: str) -> bytes:
    # Binds sealed Data to its session row: copied into another row it fails to open.
    return f"axidian_session:{challenge_id}".encode()


def _invalid_session() -> Unauthenticated:
    return Unauthenticated("The SessionId is invalid, expired or already used.",
                           reason="invalid_session")


def _invalid_template() -> Unauthenticated:
    return Unauthenticated("The TemplateId is invalid, expired or already used.",
                           reason="invalid_template")


async def _hot_create_row(core: Core, tx: HotTx, *, app: AppRow, user: UserRow,
                          authenticator: str, stage: str, state: dict[str, Any],
                          ttl_seconds: float, now: float) -> str:
    """A challenge keyed by a random GUID (the documented format of the ids)."""
    token, _ = await core.challenges.hot_create(
        tx, application_id=app.id, user_pk=user.pk, authenticator=authenticator, stage=stage,
        state=state, ttl_seconds=ttl_seconds, now=now, token=str(uuid.uuid4()))
    return token


class AxidianFlow:
    def __init__(self, core: Core) -> None:
        self.core = core

    # -- helpers -----------------------------------------------------------

    def _ctx(self, app: AppRow, user: UserRow, now: float) -> FactorContext:
        return FactorContext(core=self.core, app=app, policy=app_policy(app.settings),
                             user=user, now=now)

    @staticmethod
    async def _enrolled(ctx: FactorContext, mode: Mode) -> bool:
        """The user can use the mode's factor, and the application allows it."""
        if mode.factor not in ctx.app.authenticators:
            return False
        if mode.delivery is not None:
            return mode.delivery in channels(ctx.user)
        return await FACTORS[mode.factor].available(ctx)

    async def _available_modes(self, ctx: FactorContext) -> list[Mode]:
        """Modes the user has enrolled, the application allows and the
        lockout leaves open, in MODES order."""
        states = await self.core.lockouts.hot_states(self.core.hot, user_pk=ctx.user.pk)
        out = []
        for mode in MODES:
            state = states.get(mode.factor)
            if state is not None and is_locked(state=state, now=ctx.now):
                continue
            if await self._enrolled(ctx, mode):
                out.append(mode)
        return out

    async def _user_modes(self, application_id: str, user_id: str, caller: Caller
                          ) -> list[Mode]:
        """isAvailable / getAvailableMethods: an unknown or disabled user has
        no modes (not an error); an unknown application is 404."""
        _require(("ApplicationId", application_id), ("UserId", user_id))
        await self.core.rate_limit(client_ip=caller.client_ip, user_key=user_id)
        now = self.core.clock()
        app = await hot_application(self.core.hot, application_id)
        user = await hq.load_user_by_user_id(self.core.hot, user_id)
        if user is not None and not user.active:
            return []
        if user is None:
            if not app_policy(app.settings).hide_user_existence:
                return []
            # As a user with only a password (flows/ghosts.py).
            gid = ghost_id(self.core.code_key, user_id)
            out = []
            for mode in self._ghost_modes(app):
                state = await self.core.ghosts.state(gid, mode.factor, now=now)
                if not is_locked(state=state, now=now):
                    out.append(mode)
            return out
        return await self._available_modes(self._ctx(app, user, now))

    @staticmethod
    def _ghost_modes(app: AppRow) -> list[Mode]:
        have = ghost_authenticators(app.authenticators)
        return [m for m in MODES if m.factor in have and m.delivery is None
                and m.factor in app.authenticators]

    @staticmethod
    def _check_not_locked(states: dict[str, LockoutState], factor: str, now: float) -> None:
        state = states.get(factor)
        if state is not None and is_locked(state=state, now=now):
            raise _method_locked()

    # -- LogonService --------------------------------------------------------

    async def is_available(self, req: pb.IsAvailableRequest, caller: Caller
                           ) -> pb.IsAvailableResponse:
        exclude_password = (req.exclude_windows_password
                            if req.HasField("exclude_windows_password") else True)
        modes = await self._user_modes(req.application_id, req.user_id, caller)
        if exclude_password:
            modes = [m for m in modes if m.guid != PASSWORD]
        return pb.IsAvailableResponse(available=bool(modes))

    async def get_available_methods(self, req: pb.GetAvailableMethodsRequest, caller: Caller
                                    ) -> pb.GetAvailableMethodsResponse:
        include = _guids(req.include_mode_ids, "IncludeModeIds")
        exclude = _guids(req.exclude_mode_ids, "ExcludeModeIds")
        modes = await self._user_modes(req.application_id, req.user_id, caller)
        return pb.GetAvailableMethodsResponse(
            valid_properties_mask=1,
            authetication_methods=[m.guid for m in modes
                                   if (not include or m.guid in include)
                                   and m.guid not in exclude],
        )

    async def authenticate(self, req: pb.AuthenticateRequest, caller: Caller
                           ) -> pb.AuthenticateResponse:
        _require(("TemplateId", req.template_id))
        template_id = _guid(req.template_id, "TemplateId")
        await self.core.rate_limit(client_ip=caller.client_ip)
        now = self.core.clock()
        hot = self.core.hot
        try:
            ch, user, app = await self.core.challenges.hot_load(hot, token=template_id, now=now)
        except Unauthenticated:
            raise _invalid_template() from None
        if ch.stage != TEMPLATE_STAGE or user is None:
            raise _invalid_template()
        if not user.active:
            raise PermissionDenied("The user is disabled.", reason="user_disabled")
        policy = app_policy(app.settings)
        extra = ({"business_application": req.business_application}
                 if req.business_application else None)
        issued = await sign_session(
            hot, self.core.signer, user_pk=user.pk, user_id=user.user_id,
            grant=grant(application_id=app.id, allowed=app.authenticators,
                        factors=(ch.authenticator,)),
            amr=[ch.authenticator], ttl_seconds=policy.session_seconds, now=now,
            extra_claims=extra,
        )
        async with hot.transaction() as tx:
            try:
                await self.core.close_challenge(tx, challenge_id=ch.id, now=now)
            except Unauthenticated:
                raise _invalid_template() from None
            await issued.store(tx)
            await audit.hot_record(tx, event="logon", outcome="success", now=now,
                                   application_id=app.id, user_id=user.user_id,
                                   authenticator=ch.authenticator, client_ip=caller.client_ip)
        response = pb.AuthenticateResponse(valid_properties_mask=5, token=issued.token,
                                           user_id=user.user_id)
        response.logon_result.valid_properties_mask = 0
        response.logon_result.result.null_value = 0  # NULL_VALUE: JSON null
        return response

    async def authenticate_by_windows_token(
        self, req: pb.AuthenticateByWindowsTokenRequest, authorization: str, caller: Caller
    ) -> pb.AuthenticateByWindowsTokenResponse:
        # SPNEGO lives in flows/kerberos.py (gssapi, keytab, realm mapping).
        return await windows_logon(self.core, req, authorization, caller)

    # -- TemplateSessionService ---------------------------------------------

    async def open_verify_session(self, req: pb.OpenVerifySessionRequest, caller: Caller
                                  ) -> pb.OpenVerifySessionResponse:
        user_id = req.user_search_params.user_id
        _require(("UserSearchParams.UserId", user_id), ("ModeId", req.mode_id),
                 ("ApplicationId", req.application_id))
        mode = MODES_BY_GUID.get(_guid(req.mode_id, "ModeId"))
        if mode is None:
            raise InvalidArgument("ModeId is not a method this server knows.",
                                  reason="unknown_mode",
                                  field_violations=[("ModeId", "unknown method")])
        await self.core.rate_limit(client_ip=caller.client_ip, user_key=user_id)
        now = self.core.clock()
        hot = self.core.hot
        app = await hot_application(hot, req.application_id)
        found = await hq.load_user_by_user_id(hot, user_id)
        if found is None and app_policy(app.settings).hide_user_existence:
            return await self._ghost_session(app, user_id, mode, now, caller)
        # Unknown (hiding off) or disabled: its error.
        user = found if found is not None and found.active else await hot_active_user(
            hot, user_id)
        if mode.factor not in app.authenticators:
            raise PermissionDenied("The application does not allow this method.",
                                   reason="authenticator_not_allowed")
        ctx = self._ctx(app, user, now)
        if not await self._enrolled(ctx, mode):
            raise FailedPrecondition("The user has no usable authenticator for this "
                                     "method.", reason="authenticator_not_enrolled")
        self._check_not_locked(await self.core.lockouts.hot_states(hot, user_pk=user.pk),
                               mode.factor, now)
        started = await FACTORS[mode.factor].start(
            ctx, StartInput(otp_delivery_type=mode.delivery, client_ip=caller.client_ip))
        ttl = float(ctx.policy.challenge_seconds)
        if started.ttl_seconds is not None:
            ttl = min(ttl, started.ttl_seconds)
        async with hot.transaction() as tx:
            session_id = await _hot_create_row(
                self.core, tx, app=app, user=user, authenticator=mode.factor,
                stage=SESSION_STAGE, state={"factor_state": started.state, "mode": mode.guid},
                ttl_seconds=ttl, now=now)
            if started.effect is not None:
                await started.effect(tx)
            await audit.hot_record(tx, event="challenge", outcome="issued", now=now,
                                   application_id=app.id, user_id=user.user_id,
                                   authenticator=mode.factor, client_ip=caller.client_ip)
        return pb.OpenVerifySessionResponse(session_id=session_id)

    async def _ghost_session(self, app: AppRow, ghost: str, mode: Mode, now: float,
                             caller: Caller) -> pb.OpenVerifySessionResponse:
        """openVerifySession for a name that is no account: the answers of a
        user with only a password, and a session whose template always fails
        like a wrong password (flows/ghosts.py)."""
        if mode.factor not in app.authenticators:
            raise PermissionDenied("The application does not allow this method.",
                                   reason="authenticator_not_allowed")
        if mode not in self._ghost_modes(app):
            raise FailedPrecondition("The user has no usable authenticator for this "
                                     "method.", reason="authenticator_not_enrolled")
        state = await self.core.ghosts.state(ghost_id(self.core.code_key, ghost), mode.factor,
                                             now=now)
        self._check_not_locked({mode.factor: state}, mode.factor, now)
        async with self.core.hot.transaction() as tx:
            session_id, _ = await self.core.challenges.hot_create(
                tx, application_id=app.id, user_pk=None, authenticator=mode.factor,
                stage=SESSION_STAGE,
                state={"factor_state": {}, "mode": mode.guid, "ghost": ghost},
                ttl_seconds=float(app_policy(app.settings).challenge_seconds), now=now,
                token=str(uuid.uuid4()))
            await audit.hot_record(tx, event="challenge", outcome="issued", now=now,
                                   application_id=app.id, user_id=ghost[:255],
                                   authenticator=mode.factor, client_ip=caller.client_ip)
        return pb.OpenVerifySessionResponse(session_id=session_id)

    async def _ghost_template(self, ch: ChallengeRecord, app: AppRow, now: float,
                              caller: Caller) -> pb.CreateTemplateResponse:
        """createTemplate of a ghost's session: the checks, argon2, writes
        and answer of a wrong password."""
        ghost = str(ch.state["ghost"])
        data = self._open_data(ch)
        await self.core.rate_limit(user_key=ghost)
        factor = ch.authenticator
        if factor not in app.authenticators:
            raise PermissionDenied("The application does not allow this method.",
                                   reason="authenticator_not_allowed")
        gid = ghost_id(self.core.code_key, ghost)
        self._check_not_locked({factor: await self.core.ghosts.state(gid, factor, now=now)},
                               factor, now)
        await burn_password_time(self.core, data)
        policy = self.core.settings.lockout
        async with self.core.hot.transaction() as tx:
            try:
                await self.core.close_challenge(
                    tx, challenge_id=ch.id, now=now,
                    state={k: v for k, v in ch.state.items() if k != "data"})
            except Unauthenticated:
                raise _invalid_session() from None
            counted = await self.core.ghosts.record_failure(gid, factor, policy=policy, now=now)
            await audit.hot_record(
                tx, event="complete", outcome="refused" if counted.refused else "failure",
                reason="authenticator_locked" if counted.refused else "invalid_password",
                now=now, application_id=app.id, user_id=ghost[:255], authenticator=factor,
                client_ip=caller.client_ip)
        if counted.refused:
            raise _method_locked()
        left = remaining_attempts(state=counted.state, policy=policy, now=now)
        raise Unauthenticated(
            "Authentication failed." + (" The method is now locked." if left == 0 else ""),
            reason="invalid_password",
            metadata={"remainingAuthenticationAttempts": str(left)},
        )

    async def _load_session(self, db: AsyncSession, session_id: str, now: float
                            ) -> tuple[ChallengeRecord, User | None, Application]:
        try:
            ch, user, app = await self.core.challenges.load_with_app(
                db, token=session_id, now=now)
        except Unauthenticated:
            raise _invalid_session() from None
        if ch.stage != SESSION_STAGE or (user is None and "ghost" not in ch.state):
            raise _invalid_session()
        return ch, user, app

    async def prepare_template_data(self, req: pb.PrepareTemplateDataRequest,
                                    caller: Caller) -> None:
        _require(("SessionId", req.session_id), ("Data", req.data))
        session_id = _guid(req.session_id, "SessionId")
        if len(req.data) > MAX_DATA_CHARS:
            raise InvalidArgument(f"Data is longer than {MAX_DATA_CHARS} characters.",
                                  reason="data_too_long",
                                  field_violations=[("Data", f"must be at most "
                                                     f"{MAX_DATA_CHARS} characters")])
        await self.core.rate_limit(client_ip=caller.client_ip)
        now = self.core.clock()
        async with self.core.write() as db:
            ch, _, _ = await self._load_session(db, session_id, now)
            sealed = self.core.sealer.seal(req.data.encode(), aad=_session_aad(ch.id))
            state = {**ch.state, "data": base64.b64encode(sealed).decode("ascii")}
            # Only while the session is still open: a concurrent createTemplate
            # that used it up wins.
            try:
                await self.core.challenges.update_state(db, challenge_id=ch.id, state=state,
                                                        now=now)
            except Unauthenticated:
                raise _invalid_session() from None

    def _open_data(self, ch: ChallengeRecord) -> str:
        sealed = ch.state.get("data")
        if not isinstance(sealed, str):
            raise FailedPrecondition("Call prepareTemplateData for this session first.",
                                     reason="template_data_missing")
        try:
            raw = self.core.sealer.open(base64.b64decode(sealed, validate=True),
                                        aad=_session_aad(ch.id))
            return raw.decode()
        except (SealError, binascii.Error, UnicodeDecodeError):
            raise _invalid_session() from None

    async def create_template(self, req: pb.CreateTemplateRequest, caller: Caller
                              ) -> pb.CreateTemplateResponse:
        """Verify (reads + argon2 off the loop), then one short write
        transaction: use the session up, apply the factor's effect, count the
        outcome on the shared lockout, audit, and create the template. Of N
        concurrent calls on one session exactly one gets past the claim."""
        _require(("SessionId", req.session_id))
        session_id = _guid(req.session_id, "SessionId")
        await self.core.rate_limit(client_ip=caller.client_ip)
        now = self.core.clock()
        failure: VerificationError | None = None
        refusal: KeepChallenge | None = None
        effect: Effect | None = None
        hot = self.core.hot
        try:
            ch, found, app = await self.core.challenges.hot_load(hot, token=session_id, now=now)
        except Unauthenticated:
            raise _invalid_session() from None
        if ch.stage == SESSION_STAGE and found is None and isinstance(ch.state.get("ghost"), str):
            return await self._ghost_template(ch, app, now, caller)
        if ch.stage != SESSION_STAGE or found is None:
            raise _invalid_session()
        user = found
        if not user.active:
            raise PermissionDenied("The user is disabled.", reason="user_disabled")
        data = self._open_data(ch)
        await self.core.rate_limit(user_key=user.user_id)
        factor = ch.authenticator
        if factor not in app.authenticators:
            raise PermissionDenied("The application does not allow this method.",
                                   reason="authenticator_not_allowed")
        states = await self.core.lockouts.hot_states(hot, user_pk=user.pk)
        self._check_not_locked(states, factor, now)
        had_failures = factor in states
        try:
            effect = await FACTORS[factor].finish(
                self._ctx(app, user, now), ch.state.get("factor_state", {}),
                Answer(response=data))
        except VerificationError as exc:
            failure = exc
        except KeepChallenge as keep:
            # A correct but expired password: this API can't change it, so
            # no template, and no failure counted either.
            refusal = keep

        log_event = functools.partial(audit.hot_record, now=now, application_id=app.id,
                                      user_id=user.user_id, authenticator=factor,
                                      client_ip=caller.client_ip)
        left = 0
        policy = self.core.settings.lockout
        async with hot.transaction() as tx:
            if refusal is None and effect is not None and failure is None:
                try:
                    await effect(tx)
                except VerificationError as exc:
                    failure = exc
            try:
                # The credential has done its job: don't keep it, not even sealed.
                lockout, refused = await self.core.close_challenge(
                    tx, challenge_id=ch.id, now=now, user_pk=user.pk, authenticator=factor,
                    outcome="" if refusal is not None else "F" if failure else "S",
                    policy=policy, had_failures=had_failures,
                    state={k: v for k, v in ch.state.items() if k != "data"})
            except Unauthenticated:
                raise _invalid_session() from None
            if refusal is not None:
                await log_event(tx, event="complete", outcome="refused",
                                reason=refusal.error.reason)
            elif failure is None:
                if refused:
                    # Locked by attempts that finished meanwhile.
                    raise _method_locked()
                await log_event(tx, event="complete", outcome="success")
                template_id = await _hot_create_row(
                    self.core, tx, app=app, user=user, authenticator=factor,
                    stage=TEMPLATE_STAGE, state={"mode": ch.state.get("mode")},
                    ttl_seconds=TEMPLATE_SECONDS, now=now)
                return pb.CreateTemplateResponse(template_id=template_id)
            elif refused:
                # Locked by attempts that finished meanwhile: no verdict.
                await log_event(tx, event="complete", outcome="refused",
                                reason="authenticator_locked")
                refusal = KeepChallenge(_method_locked())
            else:
                await log_event(tx, event="complete", outcome="failure", reason=failure.reason)
                assert lockout is not None
                left = remaining_attempts(state=lockout, policy=policy, now=now)
        if refusal is not None:
            if refusal.error.reason == "password_expired":
                raise FailedPrecondition("The password has expired and must be changed "
                                         "before logging on.", reason="password_expired")
            raise refusal.error
        assert failure is not None
        raise Unauthenticated(
            "Authentication failed." + (" The method is now locked." if left == 0 else ""),
            reason=failure.reason,
            metadata={"remainingAuthenticationAttempts": str(left)},
        )


def _method_locked() -> PermissionDenied:
    return PermissionDenied("The method is locked after too many failed attempts.",
                            reason="authenticator_locked")

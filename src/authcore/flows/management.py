"""Administration: applications, users and the enrollment of authenticators."""

from __future__ import annotations

import base64
import io
import secrets
import uuid
from typing import Any, Literal

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from authcore.delivery import outbox
from authcore.errors import AlreadyExists, InvalidArgument, NotFound
from authcore.flows import audit, signup
from authcore.flows.aaguids import lookup
from authcore.flows.consumer import live_access_token
from authcore.flows.context import Core
from authcore.flows.directory import find_user, get_application, get_user, valid_username
from authcore.flows.factors.grid import cells_aad
from authcore.flows.factors.otp import channels
from authcore.flows.factors.refused import check_enable
from authcore.flows.factors.token import open_seed, seed_aad
from authcore.flows.names import AUTHENTICATOR_ORDER, type_name, type_value
from authcore.flows.passkeys import user_passkeys
from authcore.flows.policy import (
    DEFAULT_AUTHENTICATORS,
    NEW_APPLICATION_SETTINGS,
    AppPolicy,
    MagicLinkPolicy,
    SelfServicePolicy,
    WebAuthnPolicy,
)
from authcore.limits.lockout import LockoutPolicy
from authcore.store.models import (
    AaguidBlock,
    Application,
    GridCard,
    KbaAnswer,
    OtpToken,
    PasskeyCredential,
    Password,
    PushDevice,
    TempAccessCode,
    User,
)
from authcore.tokens.sessions import verify_session
from authcore.v1 import authenticators_pb2 as common
from authcore.v1 import management_pb2 as mgmt
from authcore.verify.errors import VerificationError
from authcore.verify.grid import generate_grid_card
from authcore.verify.kba import hash_answer
from authcore.verify.ocra import OCRAVerificationError, check_enrollable
from authcore.verify.otp import (
    generate_secret,
    otpauth_uri,
    secret_from_base32,
    secret_to_base32,
    verify_hotp_resync,
)
from authcore.verify.password import check_password_policy, hash_password
from authcore.verify.temp_code import generate_temp_code, hash_temp_code

_MAX_USER_ID = 255


_OTP_CHANNELS = {"EMAIL": common.OTP_DELIVERY_TYPE_EMAIL, "SMS": common.OTP_DELIVERY_TYPE_SMS,
                 "VOICE": common.OTP_DELIVERY_TYPE_VOICE}


def outbox_message(m: outbox.Listed) -> mgmt.OutboxMessage:
    msg = mgmt.OutboxMessage(
        id=m.id, channel=_OTP_CHANNELS.get(m.medium, 0), medium=m.medium, address=m.address,
        time=_ts(m.created_at), status=m.status, kind=m.kind, attempts=m.attempts,
        user_id=m.user_id)
    if m.text is not None:
        msg.text = m.text
    if m.last_error is not None:
        msg.last_error = m.last_error
    if m.application_id is not None:
        msg.application_id = m.application_id
    if m.sent_at is not None:
        msg.sent_at.CopyFrom(_ts(m.sent_at))
    if m.expires_at is not None:
        msg.expires_at.CopyFrom(_ts(m.expires_at))
    return msg


def _ts(epoch: float) -> Timestamp:
    return Timestamp(seconds=int(epoch), nanos=int((epoch % 1) * 1e9))


def _invalid(field: str, problem: str) -> InvalidArgument:
    return InvalidArgument(f"{field} {problem}.", field_violations=[(field, problem)])


_SETTING_GROUPS = ("token_lifetimes", "factor_settings", "access", "machine")


def _check_lockout(req: mgmt.CreateApplicationRequest | mgmt.UpdateApplicationRequest,
                   lockout: LockoutPolicy) -> None:
    """The lockout policy is the directory's: a request may repeat it (a
    client that round-trips an application), never change it."""
    for fd, value in req.lockout_policy.ListFields():
        if int(value) != getattr(lockout, fd.name):
            path = f"lockoutPolicy.{fd.json_name}"
            raise InvalidArgument(
                "The lockout policy is the directory's, the same for every application "
                "(AUTHCORE_LOCKOUT_MAX_FAILURES, AUTHCORE_LOCKOUT_SECONDS).",
                reason="lockout_policy_is_directory_wide",
                field_violations=[(path, f"must be {getattr(lockout, fd.name)}, the "
                                         "directory's")])


def _policy_from(req: mgmt.CreateApplicationRequest | mgmt.UpdateApplicationRequest,
                 base: dict[str, Any]) -> AppPolicy:
    """`base` (the stored settings, or a new application's defaults) with
    the fields the request sets."""
    values: dict[str, Any] = dict(base)
    json_path: dict[str, str] = {}
    for group in _SETTING_GROUPS:
        message = getattr(req, group)
        for fd, value in message.ListFields():
            values[fd.name] = value
            parent = req.DESCRIPTOR.fields_by_name[group].json_name
            json_path[fd.name] = f"{parent}.{fd.json_name}"
    policy = AppPolicy.from_json(values)
    violations = [(json_path.get(name, name), problem) for name, problem in policy.violations()]
    if violations:
        raise InvalidArgument("Invalid application settings.", field_violations=violations)
    return policy


def application_message(app: Application, lockout: LockoutPolicy) -> mgmt.Application:
    policy = AppPolicy.from_json(app.settings)
    return mgmt.Application(
        application_id=app.id,
        name=app.name,
        authenticators=[type_value(n) for n in app.authenticators],
        lockout_policy=mgmt.LockoutPolicy(max_failures=lockout.max_failures,
                                          lockout_seconds=lockout.lockout_seconds),
        access=mgmt.AccessSettings(self_sign_up=policy.self_sign_up,
                                   hide_user_existence=policy.hide_user_existence,
                                   mfa_factors=policy.mfa_factors),
        token_lifetimes=mgmt.TokenLifetimes(session_seconds=policy.session_seconds,
                                            challenge_seconds=policy.challenge_seconds,
                                            refresh_seconds=policy.refresh_seconds),
        factor_settings=mgmt.FactorSettings(
            totp_drift_steps=policy.totp_drift_steps, hotp_look_ahead=policy.hotp_look_ahead,
            grid_challenge_cells=policy.grid_challenge_cells,
            kba_challenge_questions=policy.kba_challenge_questions,
            otp_digits=policy.otp_digits, otp_ttl_seconds=policy.otp_ttl_seconds,
            user_certificate_mapping=policy.user_certificate_mapping,
        ),
        created_at=_ts(app.created_at),
        webauthn=_webauthn_message(WebAuthnPolicy.from_settings(app.settings)),
        self_service=_self_service_message(SelfServicePolicy.from_settings(app.settings)),
        machine=mgmt.MachineSettings(
            device_fingerprint_required=policy.device_fingerprint_required,
            machine_seconds=policy.machine_seconds, max_machines=policy.max_machines),
        magic_link=_magic_link_message(MagicLinkPolicy.from_settings(app.settings)),
    )


def _magic_link_message(policy: MagicLinkPolicy) -> mgmt.MagicLinkSettings:
    return mgmt.MagicLinkSettings(link_url=policy.link_url, redirect_url=policy.redirect_url,
                                  lifetime_seconds=policy.lifetime_seconds)


def _magic_link_from(req: mgmt.CreateApplicationRequest | mgmt.UpdateApplicationRequest,
                     base: dict[str, Any], webauthn: WebAuthnPolicy) -> MagicLinkPolicy:
    """The stored settings with the request's, checked against the
    application's origins as they will be (an update that only changes
    the origins is refused when it strands the link's page)."""
    values: dict[str, Any] = dict(base)
    for fd, value in req.magic_link.ListFields():
        values[fd.name] = value.strip() if isinstance(value, str) else value
    policy = MagicLinkPolicy.from_settings({"magicLink": values})
    by_name = mgmt.MagicLinkSettings.DESCRIPTOR.fields_by_name
    violations = [(f"magicLink.{by_name[f].json_name}", problem)
                  for f, problem in policy.violations(webauthn.origins)]
    if violations:
        raise InvalidArgument("Invalid Magic Link settings.", reason="invalid_magic_link_settings",
                              field_violations=violations)
    return policy


def _self_service_message(policy: SelfServicePolicy) -> mgmt.SelfServiceSettings:
    return mgmt.SelfServiceSettings(
        editable_values=mgmt.ValueNames(names=list(policy.editable_values)),
        offline_tokens_enabled=policy.offline_tokens_enabled,
        offline_minor_size=policy.offline_minor_size, offline_max_size=policy.offline_max_size,
        offline_iterations=policy.offline_iterations,
        offline_private_salt_length=policy.offline_private_salt_length,
    )


def _self_service_from(req: mgmt.CreateApplicationRequest | mgmt.UpdateApplicationRequest,
                       base: dict[str, Any]) -> SelfServicePolicy:
    values: dict[str, Any] = dict(base)
    for fd, value in req.self_service.ListFields():
        values[fd.name] = tuple(value.names) if fd.name == "editable_values" else value
    policy = SelfServicePolicy.from_settings({"selfService": values})
    by_name = mgmt.SelfServiceSettings.DESCRIPTOR.fields_by_name
    violations = [(f"selfService.{by_name[f].json_name}", problem)
                  for f, problem in policy.violations()]
    if violations:
        raise InvalidArgument("Invalid self-service settings.", field_violations=violations)
    return policy


def _webauthn_message(policy: WebAuthnPolicy) -> mgmt.WebAuthnSettings:
    return mgmt.WebAuthnSettings(
        rp_id=policy.rp_id, rp_name=policy.rp_name, origins=list(policy.origins),
        user_verification=policy.user_verification, resident_key=policy.resident_key,
        require_attestation=policy.require_attestation, timeout_ms=policy.timeout_ms,
    )


def _webauthn_from(req: mgmt.CreateApplicationRequest | mgmt.UpdateApplicationRequest,
                   base: dict[str, Any]) -> WebAuthnPolicy:
    values: dict[str, Any] = dict(base)
    for fd, value in req.webauthn.ListFields():
        values[fd.name] = tuple(value) if fd.name == "origins" else value
    policy = WebAuthnPolicy.from_settings({"webauthn": values})
    violations = [(f"webauthn.{f}", problem) for f, problem in policy.violations()]
    if violations:
        raise InvalidArgument("Invalid WebAuthn settings.", field_violations=violations)
    return policy


async def create_application(
    db: AsyncSession, *, name: str, authenticators: list[str], policy: AppPolicy, now: float,
    webauthn: WebAuthnPolicy | None = None, application_id: str | None = None,
    self_service: SelfServicePolicy | None = None, magic_link: MagicLinkPolicy | None = None,
) -> Application:
    settings = policy.to_json()
    settings["webauthn"] = (webauthn or WebAuthnPolicy(rp_name=name)).to_json()
    if self_service is not None:
        settings["selfService"] = self_service.to_json()
    if magic_link is not None:
        settings["magicLink"] = magic_link.to_json()
    app = Application(id=application_id or str(uuid.uuid4()), name=name,
                      authenticators=authenticators,
                      settings=settings, created_at=now)
    db.add(app)
    return app


class ManagementFlow:
    def __init__(self, core: Core) -> None:
        self.core = core

    # -- applications ------------------------------------------------------

    async def create_application(
        self, req: mgmt.CreateApplicationRequest
    ) -> mgmt.CreateApplicationResponse:
        name = req.name.strip()
        if not name or len(name) > 255:
            raise _invalid("name", "is required (at most 255 characters)")
        names = [type_name(v) for v in req.authenticators] or list(DEFAULT_AUTHENTICATORS)
        if "" in names:
            raise _invalid("authenticators", "contains an unknown authenticator")
        check_enable(names)
        ordered = [n for n in AUTHENTICATOR_ORDER if n in set(names)]
        _check_lockout(req, self.core.settings.lockout)
        policy = _policy_from(req, NEW_APPLICATION_SETTINGS)
        webauthn = _webauthn_from(req, {"rp_name": name})
        self_service = _self_service_from(req, {})
        magic_link = _magic_link_from(req, {}, webauthn)
        async with self.core.write() as db:
            app = await create_application(db, name=name, authenticators=ordered,
                                           policy=policy, now=self.core.clock(),
                                           webauthn=webauthn, self_service=self_service,
                                           magic_link=magic_link)
        return mgmt.CreateApplicationResponse(
            application_id=app.id, application=application_message(app, self.core.settings.lockout))

    async def update_application(
        self, req: mgmt.UpdateApplicationRequest
    ) -> mgmt.UpdateApplicationResponse:
        name = req.name.strip() if req.HasField("name") else None
        if name is not None and (not name or len(name) > 255):
            raise _invalid("name", "is required (at most 255 characters)")
        names = [type_name(v) for v in req.authenticators]
        if "" in names:
            raise _invalid("authenticators", "contains an unknown authenticator")
        check_enable(names)
        _check_lockout(req, self.core.settings.lockout)
        async with self.core.write() as db:
            app = await get_application(db, req.application_id)
            policy = _policy_from(req, app.settings)
            webauthn = _webauthn_from(req, dict(app.settings.get("webauthn") or {}))
            settings = {k: v for k, v in app.settings.items()
                        if k not in ("max_failures", "lockout_seconds")}
            settings.update(policy.to_json())
            settings["webauthn"] = webauthn.to_json()
            settings["selfService"] = _self_service_from(
                req, dict(app.settings.get("selfService") or {})).to_json()
            settings["magicLink"] = _magic_link_from(
                req, dict(app.settings.get("magicLink") or {}), webauthn).to_json()
            # A new dict: SQLAlchemy's JSON type only notices replacement.
            app.settings = settings
            if names:
                app.authenticators = [n for n in AUTHENTICATOR_ORDER if n in set(names)]
            if name is not None:
                app.name = name
            audit.record(db, event="application_update", outcome="success",
                         now=self.core.clock(), application_id=app.id)
            message = application_message(app, self.core.settings.lockout)
        return mgmt.UpdateApplicationResponse(application=message)

    async def get_application(
        self, req: mgmt.GetApplicationRequest
    ) -> mgmt.GetApplicationResponse:
        async with self.core.read() as db:
            app = await get_application(db, req.application_id)
            return mgmt.GetApplicationResponse(
                application=application_message(app, self.core.settings.lockout))

    # -- users -------------------------------------------------------------

    async def _user_message(self, db: AsyncSession, user: User) -> mgmt.User:
        msg = mgmt.User(user_id=user.user_id, active=user.active, created_at=_ts(user.created_at))
        for attr in ("email", "phone", "first_name", "last_name"):
            value = getattr(user, attr)
            if value:
                setattr(msg, attr, value)
        have = await _enrolled(db, user, self.core.clock())
        msg.authenticators.extend(type_value(n) for n in AUTHENTICATOR_ORDER if n in have)
        return msg

    async def create_user(self, req: mgmt.CreateUserRequest) -> mgmt.CreateUserResponse:
        user_id = req.user_id.strip()
        if not user_id or len(user_id) > _MAX_USER_ID:
            raise _invalid("userId", f"is required (at most {_MAX_USER_ID} characters)")
        user_id = valid_username(user_id, "userId")
        if req.HasField("email") and "@" not in req.email:
            raise _invalid("email", "must be an email address")
        if req.HasField("phone") and not any(c.isdigit() for c in req.phone):
            raise _invalid("phone", "must be a phone number")
        user = User(
            pk=str(uuid.uuid4()), user_id=user_id,
            email=req.email or None, phone=req.phone or None,
            first_name=req.first_name or None, last_name=req.last_name or None,
            active=True, created_at=self.core.clock(),
        )
        try:
            async with self.core.write() as db:
                # Provisioning takes a name over from a sign-up that never
                # proved its address (flows/signup.py).
                await signup.drop_unproved(db, user_id=user_id)
                if await find_user(db, user_id) is not None:
                    raise AlreadyExists("A user with that userId exists.", reason="user_exists")
                db.add(user)
        except IntegrityError:
            raise AlreadyExists("A user with that userId exists.", reason="user_exists") from None
        async with self.core.read() as db:
            return mgmt.CreateUserResponse(user=await self._user_message(db, user))

    async def get_user(self, req: mgmt.GetUserRequest) -> mgmt.GetUserResponse:
        async with self.core.read() as db:
            user = await get_user(db, req.user_id)
            return mgmt.GetUserResponse(user=await self._user_message(db, user))

    async def delete_user(self, req: mgmt.DeleteUserRequest) -> mgmt.DeleteUserResponse:
        async with self.core.write() as db:
            user = await get_user(db, req.user_id)
            await db.execute(delete(User).where(User.pk == user.pk))
            # The table's rows go with the user (cascade); Redis' don't.
            await self.core.lockouts.clear_all(db, user_pk=user.pk)
        return mgmt.DeleteUserResponse()

    async def unlock_user(self, req: mgmt.UnlockUserRequest) -> mgmt.UnlockUserResponse:
        async with self.core.write() as db:
            user = await get_user(db, req.user_id)
            await self.core.lockouts.clear_all(db, user_pk=user.pk)
        return mgmt.UnlockUserResponse()

    # -- authenticators ----------------------------------------------------

    async def set_password(self, req: mgmt.SetPasswordRequest) -> mgmt.SetPasswordResponse:
        try:
            check_password_policy(password=req.password)
        except VerificationError as exc:
            raise InvalidArgument(f"password does not meet the policy: {exc.message}",
                                  reason="password_policy",
                                  field_violations=[("password", exc.message)]) from None
        async with self.core.read() as db:
            await get_user(db, req.user_id)
        encoded = await self.core.blocking(hash_password, password=req.password,
                                           params=self.core.settings.argon2)
        expires = (req.expires_at.seconds + req.expires_at.nanos / 1e9
                   if req.HasField("expires_at") else None)
        now = self.core.clock()
        async with self.core.write() as db:
            user = await get_user(db, req.user_id)
            row = await db.get(Password, user.pk)
            if row is None:
                db.add(Password(user_pk=user.pk, hash=encoded, expires_at=expires,
                                updated_at=now))
            else:
                row.hash, row.expires_at, row.updated_at = encoded, expires, now
        return mgmt.SetPasswordResponse()

    async def create_token(self, req: mgmt.CreateTokenRequest) -> mgmt.CreateTokenResponse:
        if req.HasField("ocra_suite"):
            return await self._create_ocra_token(req)
        kinds: dict[int, Literal["TOTP", "HOTP"]] = {
            mgmt.TOKEN_KIND_TOTP: "TOTP", mgmt.TOKEN_KIND_HOTP: "HOTP"}
        kind = kinds.get(req.type)
        if kind is None:
            raise _invalid("type", "must be TOTP or HOTP")
        algorithm = {mgmt.TOKEN_ALGORITHM_SHA1: "SHA1", mgmt.TOKEN_ALGORITHM_SHA256: "SHA256",
                     mgmt.TOKEN_ALGORITHM_SHA512: "SHA512"}.get(
                         req.algorithm if req.HasField("algorithm") else mgmt.TOKEN_ALGORITHM_SHA1)
        if algorithm is None:
            raise _invalid("algorithm", "must be SHA1, SHA256 or SHA512")
        digits = req.digits if req.HasField("digits") else 6
        if digits not in (6, 8):
            raise _invalid("digits", "must be 6 or 8")
        period = req.period if req.HasField("period") else 30
        if not 10 <= period <= 120:
            raise _invalid("period", "must be between 10 and 120 seconds")
        secret, serial, user_id = await self._store_token(
            req, kind=kind, algorithm=algorithm, digits=digits, period=period)
        uri = otpauth_uri(secret=secret, kind=kind, account_name=user_id,
                          issuer=self.core.settings.issuer, algorithm=algorithm, digits=digits,
                          period=period, counter=0)
        png = await self.core.blocking(_qr_png, uri)
        return mgmt.CreateTokenResponse(serial_number=serial, secret=secret_to_base32(secret),
                                        otpauth_uri=uri, qr_code_png=png)

    async def _create_ocra_token(self, req: mgmt.CreateTokenRequest
                                 ) -> mgmt.CreateTokenResponse:
        """A TOKENCR (OCRA) token: the suite sets hash, digits and time step."""
        for name, field in (("type", "type"), ("algorithm", "algorithm"),
                            ("digits", "digits"), ("period", "period")):
            given = req.type != mgmt.TOKEN_KIND_UNSPECIFIED if name == "type" \
                else req.HasField(name)
            if given:
                raise _invalid(field, "is set by ocraSuite; leave it out")
        try:
            suite = check_enrollable(req.ocra_suite)
        except OCRAVerificationError as exc:
            reason = ("unsupported_ocra_suite" if exc.reason == "unsupported_suite"
                      else "invalid_ocra_suite")
            raise InvalidArgument(f"ocraSuite: {exc.message}.", reason=reason,
                                  field_violations=[("ocraSuite", exc.message)]) from None
        secret, serial, _ = await self._store_token(
            req, kind="OCRA", algorithm=suite.hash, digits=suite.digits,
            period=suite.time_step or 0, ocra_suite=suite.text)
        return mgmt.CreateTokenResponse(serial_number=serial, secret=secret_to_base32(secret),
                                        ocra_suite=suite.text)

    async def _store_token(self, req: mgmt.CreateTokenRequest, *, kind: str, algorithm: str,
                           digits: int, period: int, ocra_suite: str | None = None
                           ) -> tuple[bytes, str, str]:
        """The seed (imported or generated), the sealed row; returns the
        seed, the new serial number and the owner's user id."""
        if req.HasField("secret"):
            try:
                secret = secret_from_base32(req.secret)
            except VerificationError as exc:
                raise _invalid("secret", f"is not a usable base32 key ({exc.message})") from None
        else:
            secret = generate_secret(algorithm=algorithm)
        if len(req.label) > 100:
            raise _invalid("label", "must be at most 100 characters")
        token_id = str(uuid.uuid4())
        serial = f"{secrets.randbelow(10**10):010d}"
        async with self.core.write() as db:
            user = await get_user(db, req.user_id)
            db.add(OtpToken(
                id=token_id, user_pk=user.pk, serial_number=serial, kind=kind,
                algorithm=algorithm, digits=digits, period=period,
                sealed_secret=self.core.sealer.seal(secret, aad=seed_aad(token_id)),
                counter=0, last_used_step=None, label=req.label or None,
                created_at=self.core.clock(), ocra_suite=ocra_suite,
            ))
        return secret, serial, user.user_id

    async def resync_token(self, req: mgmt.ResyncTokenRequest) -> mgmt.ResyncTokenResponse:
        async with self.core.write() as db:
            user = await get_user(db, req.user_id)
            token = (await db.execute(select(OtpToken).where(
                OtpToken.user_pk == user.pk, OtpToken.serial_number == req.serial_number
            ))).scalar_one_or_none()
            if token is None:
                raise NotFound("The token was not found.", reason="token_not_found")
            if token.kind != "HOTP":
                raise InvalidArgument("Only HOTP tokens are resynchronised.",
                                      reason="not_hotp")
            try:
                result = verify_hotp_resync(
                    secret=open_seed(self.core.sealer, token), code1=req.code1.strip(),
                    code2=req.code2.strip(), algorithm=token.algorithm, digits=token.digits,
                    counter=token.counter)
            except VerificationError as exc:
                raise InvalidArgument("The codes do not resynchronise the token.",
                                      reason=exc.reason) from None
            token.counter = result.next_counter
        return mgmt.ResyncTokenResponse()

    async def create_grid(self, req: mgmt.CreateGridRequest) -> mgmt.CreateGridResponse:
        try:
            card = generate_grid_card(
                rows=req.rows if req.HasField("rows") else 5,
                columns=req.columns if req.HasField("columns") else 10,
                chars_per_cell=req.chars_per_cell if req.HasField("chars_per_cell") else 1,
            )
        except VerificationError as exc:
            raise InvalidArgument(f"Invalid grid size: {exc.message}.",
                                  reason="invalid_grid_size") from None
        days = req.expires_in_days if req.HasField("expires_in_days") else 365
        if not 1 <= days <= 3650:
            raise _invalid("expiresInDays", "must be between 1 and 3650")
        now = self.core.clock()
        card_id = str(uuid.uuid4())
        serial = f"{secrets.randbelow(10**10):010d}"
        expires = now + days * 86400
        async with self.core.write() as db:
            user = await get_user(db, req.user_id)
            db.add(GridCard(
                id=card_id, user_pk=user.pk, serial_number=serial, rows=card.rows,
                columns=card.columns, chars_per_cell=card.chars_per_cell,
                sealed_cells=self.core.sealer.seal(card.to_json().encode(),
                                                   aad=cells_aad(card_id)),
                expires_at=expires, created_at=now,
            ))
        return mgmt.CreateGridResponse(
            serial_number=serial,
            grid=[mgmt.GridRow(cells=list(row)) for row in card.cells],
            expiry_date=_ts(expires),
        )

    async def set_kba(self, req: mgmt.SetKbaRequest) -> mgmt.SetKbaResponse:
        if not 1 <= len(req.questions) <= 20:
            raise _invalid("questions", "must hold 1 to 20 questions")
        for i, q in enumerate(req.questions):
            if not q.question.strip() or len(q.question) > 500:
                raise _invalid(f"questions[{i}].question", "is required (at most 500 chars)")
            if not q.answer.strip() or len(q.answer) > 500:
                raise _invalid(f"questions[{i}].answer", "is required (at most 500 chars)")
        async with self.core.read() as db:
            await get_user(db, req.user_id)
        params = self.core.settings.argon2
        hashes = [await self.core.blocking(hash_answer, answer=q.answer, params=params)
                  for q in req.questions]
        now = self.core.clock()
        async with self.core.write() as db:
            user = await get_user(db, req.user_id)
            await db.execute(delete(KbaAnswer).where(KbaAnswer.user_pk == user.pk))
            for q, h in zip(req.questions, hashes, strict=True):
                db.add(KbaAnswer(id=str(uuid.uuid4()), user_pk=user.pk,
                                 question=q.question.strip(), answer_hash=h, created_at=now))
        return mgmt.SetKbaResponse()

    async def create_temp_access_code(
        self, req: mgmt.CreateTempAccessCodeRequest
    ) -> mgmt.CreateTempAccessCodeResponse:
        ttl = req.expires_in_seconds if req.HasField("expires_in_seconds") else 3600
        max_uses = req.max_uses if req.HasField("max_uses") else 1
        if not 60 <= ttl <= 30 * 86400:
            raise _invalid("expiresInSeconds", "must be between 60 and 2592000")
        if not 1 <= max_uses <= 100:
            raise _invalid("maxUses", "must be between 1 and 100")
        code = generate_temp_code()
        now = self.core.clock()
        async with self.core.write() as db:
            user = await get_user(db, req.user_id)
            db.add(TempAccessCode(
                id=str(uuid.uuid4()), user_pk=user.pk,
                code_hash=hash_temp_code(code=code, key=self.core.code_key),
                expires_at=now + ttl, max_uses=max_uses, uses=0, created_at=now,
            ))
        return mgmt.CreateTempAccessCodeResponse(code=code, expires_at=_ts(now + ttl),
                                                 max_uses=max_uses)

    # -- outbox, tokens ----------------------------------------------------

    async def list_outbox(self, req: mgmt.ListOutboxRequest) -> mgmt.ListOutboxResponse:
        status = req.status.strip().lower() or None
        if status is not None and status not in outbox.STATUSES:
            raise InvalidArgument(
                f"status must be one of {', '.join(outbox.STATUSES)}.",
                reason="invalid_outbox_status",
                field_violations=[("status", f"must be one of {', '.join(outbox.STATUSES)}")])
        async with self.core.read() as db:
            user_pk = (await get_user(db, req.user_id)).pk if req.user_id else None
            listed = await outbox.list_messages(db, self.core.outbox, user_pk=user_pk,
                                                status=status)
        return mgmt.ListOutboxResponse(messages=[outbox_message(m) for m in listed])

    async def introspect(self, req: mgmt.IntrospectTokenRequest) -> mgmt.IntrospectTokenResponse:
        async with self.core.read() as db:
            try:
                claims, _ = await verify_session(db, self.core.signer, req.token.strip(),
                                                 now=self.core.clock())
            except Exception:
                claims = None
        if claims is None:
            # Not a session token: maybe a consumer access token.
            claims = await live_access_token(self.core, req.token.strip(), now=self.core.clock())
            if claims is None:
                return mgmt.IntrospectTokenResponse(active=False)
        return mgmt.IntrospectTokenResponse(
            active=True, sub=str(claims["sub"]), aud=str(claims.get("aud", "")),
            exp=int(claims["exp"]), iat=int(claims["iat"]), jti=str(claims.get("jti", "")),
        )

    def jwks(self) -> mgmt.GetJwksResponse:
        return mgmt.GetJwksResponse(keys=[mgmt.Jwk(**k) for k in self.core.signer.jwks()["keys"]])


def _aaguid(value: str, field: str = "aaguid") -> str:
    """An AAGUID in canonical lower-case form, or 400."""
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise _invalid(field, "must be a UUID") from None


def _aaguid_message(row: AaguidBlock) -> mgmt.AaguidBlock:
    msg = mgmt.AaguidBlock(aaguid=row.aaguid, reg=row.reg, auth=row.auth)
    known = lookup(row.aaguid)
    if known is not None:
        msg.name = known.name
    return msg


def _passkey_message(p: PasskeyCredential) -> mgmt.UserPasskey:
    msg = mgmt.UserPasskey(
        passkey_id=p.id, name=p.name, credential_id=p.credential_id, aaguid=p.aaguid,
        sign_count=p.sign_count, backup_eligible=p.backup_eligible,
        backup_state=p.backup_state, transports=list(p.transports or []),
        created_at=_ts(p.created_at), rp_id=p.rp_id,
    )
    known = lookup(p.aaguid)
    if known is not None:
        msg.provider_name = known.name
    if p.last_used_at is not None:
        msg.last_used_at.CopyFrom(_ts(p.last_used_at))
    if p.flagged_at is not None:
        msg.flagged_at.CopyFrom(_ts(p.flagged_at))
    return msg


async def _user_passkey(db: AsyncSession, user_id: str, passkey_id: str) -> PasskeyCredential:
    user = await get_user(db, user_id)
    passkey = (await db.execute(select(PasskeyCredential).where(
        PasskeyCredential.id == passkey_id[:36], PasskeyCredential.user_pk == user.pk,
    ))).scalar_one_or_none()
    if passkey is None:
        raise NotFound("The passkey was not found.", reason="passkey_not_found")
    return passkey


class PasskeyAdmin:
    """The AAGUID blocklist and users' passkeys (ManagementService)."""

    def __init__(self, core: Core) -> None:
        self.core = core

    async def list_aaguid_blocks(
        self, req: mgmt.ListAaguidBlocksRequest
    ) -> mgmt.ListAaguidBlocksResponse:
        async with self.core.read() as db:
            app = await get_application(db, req.application_id)
            rows = (await db.execute(select(AaguidBlock).where(
                AaguidBlock.application_id == app.id).order_by(AaguidBlock.aaguid))).scalars()
            return mgmt.ListAaguidBlocksResponse(entries=[_aaguid_message(r) for r in rows])

    async def add_aaguid_block(
        self, req: mgmt.AddAaguidBlockRequest
    ) -> mgmt.AddAaguidBlockResponse:
        aaguid = _aaguid(req.aaguid)
        reg = req.reg if req.HasField("reg") else True
        auth = req.auth if req.HasField("auth") else True
        if not (reg or auth):
            raise InvalidArgument("An entry must block registration, authentication or both.",
                                  field_violations=[("reg", "or auth must be true")])
        try:
            async with self.core.write() as db:
                app = await get_application(db, req.application_id)
                row = await db.get(AaguidBlock, (app.id, aaguid))
                if row is None:
                    row = AaguidBlock(application_id=app.id, aaguid=aaguid, reg=reg, auth=auth,
                                      created_at=self.core.clock())
                    db.add(row)
                else:
                    row.reg, row.auth = reg, auth
        except IntegrityError:
            raise AlreadyExists("The entry was added concurrently; retry.",
                                reason="aaguid_block_exists") from None
        return mgmt.AddAaguidBlockResponse(entry=_aaguid_message(row))

    async def delete_aaguid_block(
        self, req: mgmt.DeleteAaguidBlockRequest
    ) -> mgmt.DeleteAaguidBlockResponse:
        aaguid = _aaguid(req.aaguid)
        async with self.core.write() as db:
            app = await get_application(db, req.application_id)
            gone = await db.execute(delete(AaguidBlock).where(
                AaguidBlock.application_id == app.id, AaguidBlock.aaguid == aaguid))
            if gone.rowcount != 1:  # type: ignore[attr-defined]
                raise NotFound("The AAGUID is not on the blocklist.",
                               reason="aaguid_block_not_found")
        return mgmt.DeleteAaguidBlockResponse()

    async def list_user_passkeys(
        self, req: mgmt.ListUserPasskeysRequest
    ) -> mgmt.ListUserPasskeysResponse:
        async with self.core.read() as db:
            user = await get_user(db, req.user_id)
            return mgmt.ListUserPasskeysResponse(
                passkeys=[_passkey_message(p) for p in await user_passkeys(db, user.pk)])

    async def rename_user_passkey(
        self, req: mgmt.RenameUserPasskeyRequest
    ) -> mgmt.RenameUserPasskeyResponse:
        name = req.name.strip()
        if not 1 <= len(name) <= 255:
            raise _invalid("name", "is required (at most 255 characters)")
        async with self.core.write() as db:
            passkey = await _user_passkey(db, req.user_id, req.passkey_id)
            passkey.name = name
        return mgmt.RenameUserPasskeyResponse(passkey=_passkey_message(passkey))

    async def delete_user_passkey(
        self, req: mgmt.DeleteUserPasskeyRequest
    ) -> mgmt.DeleteUserPasskeyResponse:
        async with self.core.write() as db:
            passkey = await _user_passkey(db, req.user_id, req.passkey_id)
            await db.execute(delete(PasskeyCredential).where(PasskeyCredential.id == passkey.id))
        return mgmt.DeleteUserPasskeyResponse()


def _qr_png(data: str) -> str:
    # Imported here: qrcode and Pillow are ~4.5 MB of every worker's RSS,
    # for a call made once per token enrolment.
    import qrcode

    img = qrcode.make(data)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


async def _enrolled(db: AsyncSession, user: User, now: float) -> set[str]:
    """The authenticators a user has, read in the admin's own session (it may
    hold uncommitted enrolments). FIDO and PASSKEY are usable per relying
    party; here, outside any application, any passkey counts."""
    pk = user.pk
    checks = {
        "PASSWORD": select(Password.user_pk).where(Password.user_pk == pk),
        "TOKEN": select(OtpToken.id).where(OtpToken.user_pk == pk,
                                           OtpToken.ocra_suite.is_(None)),
        "TOKENCR": select(OtpToken.id).where(OtpToken.user_pk == pk,
                                             OtpToken.ocra_suite.is_not(None)),
        "GRID": select(GridCard.id).where(
            GridCard.user_pk == pk,
            (GridCard.expires_at.is_(None)) | (GridCard.expires_at > now)),
        "KBA": select(KbaAnswer.id).where(KbaAnswer.user_pk == pk),
        "TEMP_ACCESS_CODE": select(TempAccessCode.id).where(
            TempAccessCode.user_pk == pk, TempAccessCode.expires_at > now,
            TempAccessCode.uses < TempAccessCode.max_uses),
        "FIDO": select(PasskeyCredential.id).where(PasskeyCredential.user_pk == pk),
        "TOKENPUSH": select(PushDevice.id).where(PushDevice.user_pk == pk,
                                                 PushDevice.kind == "TOKENPUSH"),
        "SMARTCREDENTIALPUSH": select(PushDevice.id).where(
            PushDevice.user_pk == pk, PushDevice.kind == "SMARTCREDENTIALPUSH",
            (PushDevice.not_after.is_(None)) | (PushDevice.not_after > now)),
    }
    have = {name for name, stmt in checks.items()
            if (await db.execute(stmt.limit(1))).first() is not None}
    if "FIDO" in have:
        have.add("PASSKEY")
    if channels(user):
        have.add("OTP")
    return have

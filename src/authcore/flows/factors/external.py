"""EXTERNAL and PASSTHROUGH: Entrust's passthrough to an external authenticator.

The application's verifier (configured through ExternalVerifierService)
decides, for both: PASSTHROUGH is the name Entrust's own parameter
objects carry (passthroughAuthenticatorParms), EXTERNAL the name Axidian's
Windows logon and LoginID's external factor also use. The signed request
names which one the client asked for, so one verifier can route a
directory passthrough (RADIUS, LDAP) and any other external check apart.

The challenge keeps its passthroughAuthenticatorParms; the completion
sends them, its own placeholders and `response` to the verifier, signed
(verify/external.py), and maps the verifier's items to
passthroughAuthenticationResponse. A REJECT is a wrong answer and counts
toward the lockout; an unreachable or misbehaving verifier is a 502/503/504
that leaves the challenge usable (flows/external_verifier.py).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from authcore.crypto.seal import SealError
from authcore.errors import FailedPrecondition, InvalidArgument, Unavailable
from authcore.flows.context import Core
from authcore.flows.external_verifier import VerifierEndpoint, ask_verifier
from authcore.flows.factors.base import Answer, Effect, FactorContext, Started, StartInput
from authcore.store.hot import queries as hq
from authcore.store.hot.queries import AppRow, ExternalVerifierRow
from authcore.v1 import authentication_pb2 as authn
from authcore.v1 import authenticators_pb2 as common
from authcore.verify.errors import VerificationError
from authcore.verify.external import (
    MAX_ITEMS,
    MAX_NAME,
    MAX_VALUE,
    VerifierAnswer,
    generate_verifier_request,
)

log = logging.getLogger("authcore.external")

# Where finish leaves the verifier's items for the success response.
RESULT_ITEMS = "external_result_items"
_FIELD = "passthroughAuthenticatorParms"


class ExternalRejected(VerificationError):
    """The external verifier answered REJECT."""


def secret_aad(application_id: str) -> bytes:
    return f"external_verifier:{application_id}".encode()


def passthrough_pairs(parms: common.PassthroughAuthenticatorParms
                      ) -> tuple[tuple[str, str], ...]:
    """The placeholders of a request, checked: malformed ones are a 400,
    never something the verifier has to cope with."""
    items = parms.passthrough_authenticator_placeholders
    if len(items) > MAX_ITEMS:
        raise InvalidArgument(f"At most {MAX_ITEMS} placeholders are allowed.",
                              reason="invalid_field",
                              field_violations=[(_FIELD, f"at most {MAX_ITEMS} placeholders")])
    out = []
    for i, item in enumerate(items):
        where = f"{_FIELD}.passthroughAuthenticatorPlaceholders[{i}]"
        if not item.name or len(item.name) > MAX_NAME:
            raise InvalidArgument("A placeholder needs a name (at most 255 characters).",
                                  reason="invalid_field",
                                  field_violations=[(where + ".name", "is required")])
        if len(item.value) > MAX_VALUE:
            raise InvalidArgument("A placeholder value is too long.", reason="invalid_field",
                                  field_violations=[(where + ".value", "is too long")])
        out.append((item.name, item.value))
    return tuple(out)


def result_response(ctx: FactorContext) -> authn.AuthenticatedResponse | None:
    """passthroughAuthenticationResponse for the success answer, when the
    verifier sent items."""
    items: tuple[tuple[str, str], ...] = ctx.memo.get(RESULT_ITEMS, ())
    if not items:
        return None
    return authn.AuthenticatedResponse(
        passthrough_authentication_response=common.PassthroughAuthenticationResponse(
            passthrough_authentication_result_items=[
                common.PassthroughAuthenticationResultItems(name=n, value=v)
                for n, v in items]))


async def _verifier(ctx: FactorContext) -> ExternalVerifierRow | None:
    app = ctx.app
    return await ctx.once("external_verifier",
                          lambda: hq.external_verifier(ctx.core.hot, app))


# The authenticators the application's verifier answers.
VERIFIER_FACTORS = ("EXTERNAL", "PASSTHROUGH")


class ExternalFactor:
    def __init__(self, name: str = "EXTERNAL") -> None:
        assert name in VERIFIER_FACTORS
        self.name = name

    async def available(self, ctx: FactorContext) -> bool:
        # Every user of an application with a verifier has it: the verifier
        # knows its users, authcore does not. The name check spares the
        # read for applications that don't allow it.
        if self.name not in ctx.app.authenticators:
            return False
        return await _verifier(ctx) is not None

    async def start(self, ctx: FactorContext, inp: StartInput) -> Started:
        return Started(state={"placeholders": [list(p) for p in inp.passthrough]},
                       response=authn.AuthenticatedResponse())

    async def finish(
        self, ctx: FactorContext, state: dict[str, Any], answer: Answer
    ) -> Effect | None:
        verdict = await consult(ctx.core, ctx.app, ctx.user.user_id, state, answer,
                                await _verifier(ctx), authenticator=self.name)
        if not verdict.accepted:
            raise ExternalRejected("external_rejected", "the external verifier rejected it")
        ctx.memo[RESULT_ITEMS] = verdict.items
        return None


async def offered_to_ghosts(core: Core, app: AppRow) -> list[str]:
    """Which of EXTERNAL and PASSTHROUGH a name that is no account gets too:
    every real user of the application has them, so a ghost without them
    would stand out."""
    names = [n for n in VERIFIER_FACTORS if n in app.authenticators]
    if names and await hq.external_verifier(core.hot, app) is not None:
        return names
    return []


async def ghost_consult(core: Core, app: AppRow, ghost: str, state: dict[str, Any],
                        answer: Answer, *, authenticator: str) -> None:
    """A ghost's EXTERNAL or PASSTHROUGH complete asks the verifier as a
    user's would (same errors, same time); whatever it answers, there is no
    account to sign in."""
    await consult(core, app, ghost, state, answer,
                  await hq.external_verifier(core.hot, app), authenticator=authenticator)


async def consult(core: Core, app: AppRow, user_id: str, state: dict[str, Any],
                  answer: Answer, row: ExternalVerifierRow | None, *,
                  authenticator: str) -> VerifierAnswer:
    if answer.response is None and not answer.passthrough:
        raise InvalidArgument("response or passthroughAuthenticatorParms is required.",
                              reason="missing_field",
                              field_violations=[("response", "is required")])
    if row is None:
        raise FailedPrecondition("The application has no external verifier.",
                                 reason="external_verifier_not_configured")
    try:
        key = core.sealer.open(row.secret, aad=secret_aad(app.id))
    except SealError:
        # Another master key, or a row copied from another application.
        log.error("external verifier secret of application %s does not open", app.id)
        raise Unavailable("The external verifier is misconfigured.",
                          reason="external_verifier_misconfigured") from None
    request = generate_verifier_request(
        key=key, application_id=app.id, user_id=user_id, authenticator=authenticator,
        response=answer.response, placeholders=answer.passthrough,
        challenge_placeholders=[(str(n), str(v)) for n, v in state.get("placeholders", [])],
        # The wall clock, not core.clock(): the verifier checks freshness
        # against its own.
        now=time.time())
    return await ask_verifier(
        VerifierEndpoint(url=row.url, key=key, timeout_seconds=row.timeout_ms / 1000), request)

"""The contract every authenticator's flow implements.

Factors read through `ctx.core.hot` (prebuilt statements on the raw driver,
store/hot/queries.py) and never hold a connection: a verification that
waits for argon2 keeps nothing pooled. What a verified answer changes is an
`Effect`, run later inside the call's one write transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from authcore.flows.context import Core
from authcore.flows.policy import AppPolicy
from authcore.store.hot import HotTx
from authcore.store.hot.queries import AppRow, UserRow
from authcore.v1 import authentication_pb2 as authn
from authcore.verify.errors import VerificationError

T = TypeVar("T")


@dataclass
class FactorContext:
    core: Core
    app: AppRow
    policy: AppPolicy
    user: UserRow
    now: float
    # Reads already made in this call (a challenge asks `available` and
    # then `start`, which need the same rows).
    memo: dict[str, Any] = field(default_factory=dict)

    async def once(self, key: str, load: Callable[[], Awaitable[T]]) -> T:
        if key not in self.memo:
            self.memo[key] = await load()
        value: T = self.memo[key]
        return value


@dataclass(frozen=True)
class StartInput:
    otp_delivery_type: str | None = None
    otp_delivery_attribute: str | None = None
    # The caller's, for the per-IP cap on the messages a start sends.
    client_ip: str = ""
    # passthroughAuthenticatorParms (EXTERNAL), as (name, value) pairs.
    passthrough: tuple[tuple[str, str], ...] = ()
    # TOKENPUSH / SMARTCREDENTIALPUSH: what the push shows and asks.
    summary: str | None = None
    transaction_details: tuple[tuple[str, str], ...] = ()
    push_mutual_challenge: bool = False
    push_message_identifier: str | None = None


@dataclass(frozen=True)
class Answer:
    response: str | None = None
    new_password: str | None = None
    kba_answers: dict[str, str] = field(default_factory=dict)
    # USER_CERTIFICATE's userCertificateResponse.
    certificate_code: str | None = None
    certificate_verifier: str | None = None
    passthrough: tuple[tuple[str, str], ...] = ()


# What a call changes besides its challenge and outcome (a TOTP step used, a
# code's use counted, a password rehashed, a code queued for delivery),
# applied inside the call's short write transaction so the verification
# itself (argon2, HMACs) never runs under the database's write lock. It may
# raise VerificationError, e.g. when a concurrent request spent the same code
# first. It must not await anything but the transaction's statements.
Effect = Callable[[HotTx], Awaitable[None]]


class FailureWithEffect(Exception):
    """A wrong answer whose failure also changes something, applied in the
    transaction that records the failure: a machine's replayed sequence
    nonce revokes the machine."""

    def __init__(self, error: VerificationError, effect: Effect) -> None:
        super().__init__(error.message)
        self.error = error
        self.effect = effect


# `FactorContext.memo` key: an AuthenticatedResponse a factor's `finish`
# leaves to be merged into the success (a machine's next sequence nonce).
SUCCESS_RESPONSE = "success_response"


@dataclass
class Started:
    state: dict[str, Any]
    # The factor's challenge fields (gridChallenge, kbaChallenge, ...).
    response: authn.AuthenticatedResponse
    # A factor may shorten the challenge's life (an OTP's own expiry).
    ttl_seconds: float | None = None
    # Written with the challenge (the OTP's outbox message).
    effect: Effect | None = None


class Factor(Protocol):
    name: str

    async def available(self, ctx: FactorContext) -> bool:
        """Whether the user has this authenticator enrolled and usable."""
        ...

    async def start(self, ctx: FactorContext, inp: StartInput) -> Started: ...

    async def finish(
        self, ctx: FactorContext, state: dict[str, Any], answer: Answer
    ) -> Effect | None:
        """Verify the answer; raise a VerificationError when it is wrong."""
        ...

"""The contract every authenticator's flow implements."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from authcore.flows.context import Core
from authcore.flows.policy import AppPolicy
from authcore.store.models import Application, User
from authcore.v1 import authentication_pb2 as authn


@dataclass
class FactorContext:
    core: Core
    db: AsyncSession
    app: Application
    policy: AppPolicy
    user: User
    now: float


@dataclass(frozen=True)
class StartInput:
    otp_delivery_type: str | None = None
    otp_delivery_attribute: str | None = None


@dataclass(frozen=True)
class Answer:
    response: str | None = None
    new_password: str | None = None
    kba_answers: dict[str, str] = field(default_factory=dict)


@dataclass
class Started:
    state: dict[str, Any]
    # The factor's challenge fields (gridChallenge, kbaChallenge, ...).
    response: authn.AuthenticatedResponse
    # A factor may shorten the challenge's life (an OTP's own expiry).
    ttl_seconds: float | None = None


# What a verified answer changes (a TOTP step used, a code's use counted, a
# password rehashed), applied inside the flow's short write transaction so the
# verification itself (argon2, HMACs) never runs under the database's write
# lock. It may still raise VerificationError, e.g. when a concurrent request
# spent the same code first.
Effect = Callable[[AsyncSession], Awaitable[None]]


class Factor(Protocol):
    name: str

    async def available(self, ctx: FactorContext) -> bool:
        """Whether the user has this authenticator enrolled and usable."""
        ...

    async def start(self, ctx: FactorContext, inp: StartInput) -> Started: ...

    async def finish(
        self, ctx: FactorContext, state: dict[str, Any], answer: Answer
    ) -> Effect | None:
        """Verify the answer; raise a VerificationError when it is wrong.
        `ctx.db` is a read-only session here."""
        ...

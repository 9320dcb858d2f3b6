"""Scenarios for bench/load.py that drive authcore's TOKEN complete (TOTP).

Each call is AuthenticationService.AuthenticateUserChallenge with
authenticator TOKEN, the TOTP code as `response` and a challenge token as
`authorization` metadata. Challenge tokens are single-use, so the harness
creates one per planned call beforehand and the scenario is a finite pool.

Everything but the TOTP code is fixed before the run: the requests for every
code a user may need during the run are serialized when the worker starts,
and a call only picks the one for the current time step.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pyotp

from authcore.v1 import authentication_pb2, authenticators_pb2

METHOD = "/authcore.v1.AuthenticationService/AuthenticateUserChallenge"
TOKEN = authenticators_pb2.AUTHENTICATOR_TYPE_TOKEN

Metadata = tuple[tuple[str, str], ...]
Call = tuple[str, bytes, Metadata]


def complete_request(code: str) -> bytes:
    request = authentication_pb2.AuthenticateUserChallengeRequest(authenticator=TOKEN,
                                                                  response=code)
    return bytes(request.SerializeToString())


@dataclass(frozen=True)
class PlannedCall:
    user: int  # index into TokenCompleteScenario.secrets
    challenge: str  # single-use challenge token
    # Accepted calls: the code is for (time step at call time) + offset, with
    # 0 <= offset <= drift. A user's calls have strictly increasing offsets,
    # so each lands on a step later than the user's last used one and passes
    # replay protection.
    offset: int = 0


@dataclass(frozen=True)
class TokenCompleteScenario:
    name: str
    secrets: tuple[str, ...]  # base32 TOTP seed per user
    plan: tuple[PlannedCall, ...]  # issue order
    wrong_code: bool
    drift_steps: int = 1
    period: int = 30

    @property
    def expected(self) -> tuple[str, ...]:
        return ("UNAUTHENTICATED",) if self.wrong_code else ("OK",)

    def shard(self, worker: int, workers: int) -> list[PlannedCall]:
        # By user, so one user's calls stay in one process and in order.
        return [c for c in self.plan if c.user % workers == worker]

    def _steps(self, start: float, end: float) -> range:
        margin = self.drift_steps + 2
        return range(int(start // self.period) - margin, int(end // self.period) + margin + 1)

    def calls(self, worker: int, workers: int, start: float, end: float) -> Iterator[Call]:
        mine = self.shard(worker, workers)
        steps = self._steps(start, end)
        totps = {u: pyotp.TOTP(self.secrets[u], interval=self.period)
                 for u in {c.user for c in mine}}
        metadata = [(("authorization", c.challenge),) for c in mine]
        if self.wrong_code:
            wrong = {u: complete_request(_wrong_code(t, steps)) for u, t in totps.items()}
            for call, md in zip(mine, metadata, strict=True):
                yield METHOD, wrong[call.user], md
            return
        by_step = {u: {s: complete_request(t.generate_otp(s)) for s in steps}
                   for u, t in totps.items()}
        period = self.period
        for call, md in zip(mine, metadata, strict=True):
            step = int(time.time() // period) + call.offset
            payload = by_step[call.user].get(step)
            if payload is None:  # outside the planned window: compute it now
                payload = complete_request(totps[call.user].generate_otp(step))
            yield METHOD, payload, md


def _wrong_code(totp: pyotp.TOTP, steps: range) -> str:
    """A well-formed code that matches none of the steps the server may try."""
    taken = {totp.generate_otp(s) for s in range(steps.start - 2, steps.stop + 2)}
    n = 0
    while f"{n:06d}" in taken:
        n += 1
    return f"{n:06d}"

"""Scenarios for bench/load.py that drive authcore's challenge completes:
TOKEN (TOTP) and PASSWORD.

Each call is AuthenticationService.AuthenticateUserChallenge with the
authenticator, the TOTP code or password as `response` and a challenge token
as `authorization` metadata; with `rest=True` the same call goes to the REST
bridge (POST .../authenticate/{authenticator}/complete, JSON body, the token
in the Authorization header). Challenge tokens are single-use, so the harness
creates one per planned call beforehand and the scenario is a finite pool.

Everything but the TOTP code is fixed before the run: the requests for every
code a user may need during the run are serialized when the worker starts,
and a call only picks the one for the current time step.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pyotp

from authcore.v1 import authentication_pb2, authenticators_pb2

METHOD = "/authcore.v1.AuthenticationService/AuthenticateUserChallenge"
TOKEN = authenticators_pb2.AUTHENTICATOR_TYPE_TOKEN
PASSWORD = authenticators_pb2.AUTHENTICATOR_TYPE_PASSWORD
# The REST bridge's route of AuthenticateUserChallenge (load.py's http form).
REST_METHOD = "POST /api/web/v1/authentication/users/authenticate/{}/complete"

Metadata = tuple[tuple[str, str], ...]
Call = tuple[str, bytes, Metadata]


def complete_request(code: str, authenticator: int = TOKEN) -> bytes:
    request = authentication_pb2.AuthenticateUserChallengeRequest(authenticator=authenticator,
                                                                  response=code)
    return bytes(request.SerializeToString())


def complete_body(response: str) -> bytes:
    """The REST form's JSON body (the authenticator is in the path)."""
    return json.dumps({"response": response}, separators=(",", ":")).encode()


def complete_method(authenticator: int, rest: bool) -> str:
    if not rest:
        return METHOD
    name = authenticators_pb2.AuthenticatorType.Name(authenticator)
    return REST_METHOD.format(name.removeprefix("AUTHENTICATOR_TYPE_"))


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
    rest: bool = False  # the REST bridge instead of gRPC

    @property
    def expected(self) -> tuple[str, ...]:
        if self.rest:
            return ("401",) if self.wrong_code else ("200",)
        return ("UNAUTHENTICATED",) if self.wrong_code else ("OK",)

    def encode(self, code: str) -> bytes:
        return complete_body(code) if self.rest else complete_request(code)

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
        method = complete_method(TOKEN, self.rest)
        if self.wrong_code:
            wrong = {u: self.encode(_wrong_code(t, steps)) for u, t in totps.items()}
            for call, md in zip(mine, metadata, strict=True):
                yield method, wrong[call.user], md
            return
        by_step = {u: {s: self.encode(t.generate_otp(s)) for s in steps}
                   for u, t in totps.items()}
        period = self.period
        for call, md in zip(mine, metadata, strict=True):
            step = int(time.time() // period) + call.offset
            payload = by_step[call.user].get(step)
            if payload is None:  # outside the planned window: compute it now
                payload = self.encode(totps[call.user].generate_otp(step))
            yield method, payload, md


@dataclass(frozen=True)
class PasswordCompleteScenario:
    """PASSWORD complete with the right password: every call verifies an
    argon2id hash. A user may have several calls in flight (nothing in the
    path is a compare-and-set unless the hash needs a rehash)."""

    name: str
    passwords: tuple[str, ...]  # per user
    plan: tuple[PlannedCall, ...]  # issue order
    rest: bool = False

    @property
    def expected(self) -> tuple[str, ...]:
        return ("200",) if self.rest else ("OK",)

    def calls(self, worker: int, workers: int, start: float, end: float) -> Iterator[Call]:
        method = complete_method(PASSWORD, self.rest)
        payloads = [complete_body(p) if self.rest else complete_request(p, PASSWORD)
                    for p in self.passwords]
        for i, call in enumerate(self.plan):
            if i % workers == worker:
                yield method, payloads[call.user], (("authorization", call.challenge),)


def _wrong_code(totp: pyotp.TOTP, steps: range) -> str:
    """A well-formed code that matches none of the steps the server may try."""
    taken = {totp.generate_otp(s) for s in range(steps.start - 2, steps.stop + 2)}
    n = 0
    while f"{n:06d}" in taken:
        n += 1
    return f"{n:06d}"

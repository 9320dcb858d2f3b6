"""Scenarios for bench/load.py that drive authcore's challenge completes:
TOKEN (TOTP) and PASSWORD, and whole TOTP logins (challenge + complete).

Each call is AuthenticationService.AuthenticateUserChallenge with the
authenticator, the TOTP code or password as `response` and a challenge token
as `authorization` metadata; with `rest=True` the same call goes to the REST
bridge (POST .../authenticate/{authenticator}/complete, JSON body, the token
in the Authorization header). Challenge tokens are single-use, so the harness
creates one per planned call beforehand and the scenario is a finite pool.

Everything but the TOTP code is fixed before the run: the requests for every
code a user may need during the run are serialized when the worker starts,
and a call only picks the one for the current time step.

TotpLoginScenario is different: each item is a load.py flow of two
dependent calls, RequestUserChallenge and then the complete with the token
the first call returned, so it needs no pool of challenges, only users.
"""

from __future__ import annotations

import json
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass

import pyotp

from authcore.v1 import authentication_pb2, authenticators_pb2

METHOD = "/authcore.v1.AuthenticationService/AuthenticateUserChallenge"
CHALLENGE_METHOD = "/authcore.v1.AuthenticationService/RequestUserChallenge"
TOKEN = authenticators_pb2.AUTHENTICATOR_TYPE_TOKEN
PASSWORD = authenticators_pb2.AUTHENTICATOR_TYPE_PASSWORD
# The REST bridge's route of AuthenticateUserChallenge (load.py's http form).
REST_METHOD = "POST /api/web/v1/authentication/users/authenticate/{}/complete"

Metadata = tuple[tuple[str, str], ...]
Call = tuple[str, bytes, Metadata]
# load.py's flow: yields calls, is sent (status, response bytes), returns a status.
Flow = Generator[Call, tuple[str, bytes], str]


def complete_request(code: str, authenticator: int = TOKEN) -> bytes:
    request = authentication_pb2.AuthenticateUserChallengeRequest(authenticator=authenticator,
                                                                  response=code)
    return bytes(request.SerializeToString())


def challenge_request(application_id: str, user_id: str, authenticator: int = TOKEN) -> bytes:
    request = authentication_pb2.RequestUserChallengeRequest(
        authenticator=authenticator, application_id=application_id, user_id=user_id)
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
    user_ids: tuple[str, ...] = ()  # per user, when the harness kept them

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


@dataclass(frozen=True)
class TotpLoginScenario:
    """A whole TOTP login per item (a load.py flow, gRPC only):
    RequestUserChallenge(TOKEN), then AuthenticateUserChallenge with the right
    code and the returned token as `authorization` metadata. A login counts
    as OK only if both calls are; otherwise its status is the failing call's,
    prefixed "challenge:" or "complete:".

    Replay protection lets a user pass once per time step, and only steps
    now-drift .. now+drift are accepted. Each worker keeps, per user of its
    shard, the last step it sent, and a login uses max(last + 1, now at
    send): never a replay, never behind the clock (so still accepted if the
    server's step moves on while the call is in flight), and never more than
    `drift` ahead, since a user is only picked while last + 1 <= now + drift.
    A user is also only picked while none of its logins is in flight, so the
    step bookkeeping is exact. So a user gives drift + 1 logins at once and
    one more per step after that; when every user of a worker is busy or
    spent, the scenario ends (load.py flags the pool as exhausted).

    The users must be fresh (no step used yet) and used by one run only: the
    steps a run used are not known to the next one."""

    name: str
    application_id: str
    user_ids: tuple[str, ...]
    secrets: tuple[str, ...]  # base32 TOTP seed per user
    drift_steps: int = 1
    period: int = 30

    @property
    def expected(self) -> tuple[str, ...]:
        return ("OK",)

    def calls(self, worker: int, workers: int, start: float, end: float) -> Iterator[Flow]:
        # By user, like TokenCompleteScenario: a user's logins stay in one process.
        mine = [u for u in range(len(self.user_ids)) if u % workers == worker]
        if not mine:
            return
        margin = self.drift_steps + 2
        steps = range(int(start // self.period) - margin, int(end // self.period) + margin + 1)
        totps = {u: pyotp.TOTP(self.secrets[u], interval=self.period) for u in mine}
        challenges = {u: challenge_request(self.application_id, self.user_ids[u])
                      for u in mine}
        by_step = {u: {s: complete_request(t.generate_otp(s)) for s in steps}
                   for u, t in totps.items()}
        busy: set[int] = set()
        last: dict[int, int] = {}  # the last step sent, per user
        turn = 0
        while True:
            now = int(time.time() // self.period)
            for _ in range(len(mine)):
                user = mine[turn % len(mine)]
                turn += 1
                if user not in busy and last.get(user, now - 1) + 1 <= now + self.drift_steps:
                    break
            else:
                return
            busy.add(user)
            yield self._login(user, challenges[user], by_step[user], totps[user], busy, last)

    def _login(self, user: int, challenge: bytes, by_step: dict[int, bytes], totp: pyotp.TOTP,
               busy: set[int], last: dict[int, int]) -> Flow:
        try:
            code, body = yield CHALLENGE_METHOD, challenge, ()
            if code != "OK":
                return f"challenge:{code}"
            response = authentication_pb2.RequestUserChallengeResponse.FromString(body)
            token = str(response.authenticated.token)
            # The step is chosen when the complete is sent, not when the
            # login started: the clock may have moved on during the challenge.
            step = max(last.get(user, -1) + 1, int(time.time() // self.period))
            # Recorded before the call: whether or not the server got to use
            # the step, the next login must not send it again.
            last[user] = step
            payload = by_step.get(step) or complete_request(totp.generate_otp(step))
            code, _ = yield METHOD, payload, (("authorization", token),)
            return "OK" if code == "OK" else f"complete:{code}"
        finally:
            busy.discard(user)

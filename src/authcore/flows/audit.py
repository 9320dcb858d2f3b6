"""Audit events: one row per authentication decision, never with a secret.

Each row carries the id of the request that made it (authcore.logs), so a
row leads to the request's log lines and back."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from authcore import logs, metrics
from authcore.store.hot import HotTx
from authcore.store.hot.queries import insert_audit_event
from authcore.store.models import AuditEvent

log = logging.getLogger("authcore.audit")


def record(
    db: AsyncSession,
    *,
    event: str,
    outcome: str,
    now: float,
    reason: str | None = None,
    application_id: str | None = None,
    user_id: str | None = None,
    authenticator: str | None = None,
    client_ip: str | None = None,
) -> None:
    db.add(
        AuditEvent(
            ts=now,
            event=event,
            outcome=outcome,
            reason=reason,
            application_id=application_id,
            user_id=user_id,
            authenticator=authenticator,
            client_ip=client_ip,
            request_id=logs.current_request_id(),
        )
    )
    logs.note_application(application_id)
    if event in AUTHENTICATION_EVENTS and outcome not in _UNDECIDED:
        metrics.authentication(authenticator or "", outcome)
    log.info(
        "%s %s reason=%s app=%s user=%s authenticator=%s ip=%s",
        event, outcome, reason, application_id, user_id, authenticator, client_ip,
    )


async def hot_record(
    tx: HotTx,
    *,
    event: str,
    outcome: str,
    now: float,
    reason: str | None = None,
    application_id: str | None = None,
    user_id: str | None = None,
    authenticator: str | None = None,
    client_ip: str | None = None,
) -> None:
    """`record` inside a hot path's write transaction (store/hot).

    The row is the record. Its log line is INFO for refusals and failures,
    which operators watch, and DEBUG for successes and issued challenges: a
    line per login would cost a formatted write on every hot call."""
    await insert_audit_event(tx, event=event, outcome=outcome, now=now, reason=reason,
                             application_id=application_id, user_id=user_id,
                             authenticator=authenticator, client_ip=client_ip,
                             request_id=logs.current_request_id())
    logs.note_application(application_id)
    if event in AUTHENTICATION_EVENTS and outcome not in _UNDECIDED:
        metrics.authentication(authenticator or "", outcome)
    level = logging.DEBUG if outcome in _ROUTINE else logging.INFO
    if log.isEnabledFor(level):
        log.log(level, "%s %s reason=%s app=%s user=%s authenticator=%s ip=%s",
                event, outcome, reason, application_id, user_id, authenticator, client_ip)


_ROUTINE = frozenset({"success", "issued"})
# The events that are an authentication's decision (authcore_authentications):
# not challenges issued, registrations or logouts.
AUTHENTICATION_EVENTS = frozenset({"complete", "logon", "consumer_login", "consumer_stepup",
                                   "passkey_auth", "passkey_tx", "auth_code_verify",
                                   "oidc_login"})
_UNDECIDED = frozenset({"started", "issued"})

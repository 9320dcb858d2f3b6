"""Every SQL statement of the hot paths, by what it does.

A hot call (an Entrust challenge or complete, a LoginID sign-in, a consumer
login or authenticated call, an Axidian authenticate, a SCIM GetUser or
`userName eq`) runs only statements from this file, on the raw driver
(`sqlite3` on the event loop, asyncpg on PostgreSQL; see
`store/hot/sqlite.py` and `store/hot/postgres.py`): one read phase, then at
most one short write transaction. No ORM object is built on the way.

Statements are written once, with `:name` placeholders (SQLite's own style,
and SQLAlchemy `text()`'s); `Stmt.pg` is the same text with asyncpg's `$n`
placeholders, made once at import. Where PostgreSQL needs more (a row lock
that SQLite's single writer makes unnecessary) it is `pg_suffix`.

Rule for adding a hot path: its statements go here, it reads through
`store/hot/queries.py`, and it writes in one `core.hot.transaction()`.
"""

# The f-strings below only splice this module's own column lists; every
# value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_PARAM = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")


@dataclass(frozen=True, slots=True)
class Stmt:
    name: str
    sql: str
    pg: str
    params: tuple[str, ...]

    def pg_args(self, values: Mapping[str, Any]) -> list[Any]:
        return [values[p] for p in self.params]


def _stmt(name: str, sql: str, *, pg_suffix: str = "") -> Stmt:
    sql = " ".join(sql.split())
    order: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in order:
            order.append(match.group(1))
        return f"${order.index(match.group(1)) + 1}"

    pg = _PARAM.sub(number, sql) + pg_suffix
    return Stmt(name=name, sql=sql, pg=pg, params=tuple(order))


_USER = ("u.pk, u.user_id, u.email, u.phone, u.first_name, u.last_name, u.active, "
         "u.display_name")
_APP = "a.id AS app_id, a.name AS app_name, a.authenticators, a.settings"
_CHALLENGE = ("c.id, c.application_id, c.user_pk, c.authenticator, c.stage, c.state, "
              "c.expires_at, c.consumed_at")

# -- applications and users ---------------------------------------------------

LOAD_APPLICATION = _stmt("load_application", f"""
    SELECT {_APP} FROM applications a WHERE a.id = :app_id""")

# Users are named by their folded key (authcore/identifiers.py, ux_users_user_key).
LOAD_USER_BY_USER_ID = _stmt("load_user_by_user_id", f"""
    SELECT {_USER} FROM users u WHERE u.user_key = :user_key""")

LOAD_USER_BY_PK = _stmt("load_user_by_pk", f"""
    SELECT {_USER} FROM users u WHERE u.pk = :pk""")

# The application and the user named by a request, in one statement. The
# application's external verifier (EXTERNAL, PASSTHROUGH) comes along, by
# its primary key: EXTERNAL is in the default authenticators, so without it
# most queries would make one more round trip to learn there is none.
LOAD_APPLICATION_AND_USER = _stmt("load_application_and_user", f"""
    SELECT {_APP}, {_USER}, ev.url AS ev_url, ev.secret AS ev_secret,
           ev.timeout_ms AS ev_timeout_ms
    FROM applications a
    LEFT JOIN users u ON u.user_key = :user_key
    LEFT JOIN external_verifiers ev ON ev.application_id = a.id
    WHERE a.id = :app_id""")

# The same, the user named by primary key (a challenge in Redis).
LOAD_APPLICATION_AND_USER_PK = _stmt("load_application_and_user_pk", f"""
    SELECT {_APP}, {_USER} FROM applications a
    LEFT JOIN users u ON u.pk = :pk
    WHERE a.id = :app_id""")

GROUP_NAMES = _stmt("group_names", """
    SELECT g.display_name FROM groups g
    JOIN group_members m ON m.group_id = g.id
    WHERE m.member_id = :user_pk ORDER BY g.display_name""")

# -- challenges ---------------------------------------------------------------

# Everything a complete needs to know about its challenge, in one read.
LOAD_CHALLENGE = _stmt("load_challenge", f"""
    SELECT {_CHALLENGE}, {_APP}, {_USER} FROM challenges c
    JOIN applications a ON a.id = c.application_id
    LEFT JOIN users u ON u.pk = c.user_pk
    WHERE c.token_hash = :token_hash""")

INSERT_CHALLENGE = _stmt("insert_challenge", """
    INSERT INTO challenges (id, token_hash, application_id, user_pk, authenticator, stage,
                            state, expires_at, consumed_at, created_at)
    VALUES (:id, :token_hash, :application_id, :user_pk, :authenticator, :stage,
            :state, :expires_at, NULL, :now)""")

# Single use: of concurrent claims only one updates the row.
CLAIM_CHALLENGE = _stmt("claim_challenge", """
    UPDATE challenges SET consumed_at = :now
    WHERE id = :id AND consumed_at IS NULL AND expires_at > :now""")

# The same, replacing the state (Axidian drops the sealed credential).
CLAIM_CHALLENGE_WITH_STATE = _stmt("claim_challenge_with_state", """
    UPDATE challenges SET consumed_at = :now, state = :state
    WHERE id = :id AND consumed_at IS NULL AND expires_at > :now""")

# -- lockout counters ---------------------------------------------------------

LOCKOUT_STATES = _stmt("lockout_states", """
    SELECT authenticator, failures, locked_at, lockout_expires_at
    FROM lockouts WHERE user_pk = :user_pk""")

# The counter row, held for the rest of the transaction (SQLite: its one
# writer already is).
LOCK_LOCKOUT = _stmt("lock_lockout", """
    SELECT failures, locked_at, lockout_expires_at FROM lockouts
    WHERE user_pk = :user_pk AND authenticator = :authenticator""", pg_suffix=" FOR UPDATE")

CREATE_LOCKOUT = _stmt("create_lockout", """
    INSERT INTO lockouts (user_pk, authenticator, failures) VALUES (:user_pk, :authenticator, 0)
    ON CONFLICT DO NOTHING""")

RECORD_FAILURES = _stmt("record_failures", """
    UPDATE lockouts SET failures = :failures, locked_at = :locked_at,
                        lockout_expires_at = :lockout_expires_at
    WHERE user_pk = :user_pk AND authenticator = :authenticator""")

RESET_LOCKOUT = _stmt("reset_lockout", """
    DELETE FROM lockouts WHERE user_pk = :user_pk AND authenticator = :authenticator""")

# -- factors ------------------------------------------------------------------

USER_PASSWORD = _stmt("user_password", """
    SELECT hash, expires_at FROM passwords WHERE user_pk = :user_pk""")

# Only over the hash that was verified: a concurrent change wins.
STORE_PASSWORD_HASH = _stmt("store_password_hash", """
    UPDATE passwords SET hash = :hash, expires_at = :expires_at, updated_at = :now
    WHERE user_pk = :user_pk AND hash = :old_hash""")

USER_TOKENS = _stmt("user_tokens", """
    SELECT id, serial_number, kind, algorithm, digits, period, sealed_secret, counter,
           last_used_step, label, ocra_suite
    FROM otp_tokens WHERE user_pk = :user_pk ORDER BY created_at""")

# Compare-and-set: a TOTP step is spent once, and only forwards.
RECORD_TOTP_STEP = _stmt("record_totp_step", """
    UPDATE otp_tokens SET last_used_step = :step
    WHERE id = :id AND (last_used_step IS NULL OR last_used_step < :step)""")

RECORD_HOTP_COUNTER = _stmt("record_hotp_counter", """
    UPDATE otp_tokens SET counter = :next_counter WHERE id = :id AND counter = :counter""")

# An OCRA suite with both C and T (TOKENCR): both compare-and-sets at once.
RECORD_OCRA_COUNTER_AND_STEP = _stmt("record_ocra_counter_and_step", """
    UPDATE otp_tokens SET counter = :next_counter, last_used_step = :step
    WHERE id = :id AND counter = :counter
      AND (last_used_step IS NULL OR last_used_step < :step)""")

ACTIVE_GRID_CARDS = _stmt("active_grid_cards", """
    SELECT id, serial_number, rows, columns, chars_per_cell, sealed_cells, expires_at
    FROM grid_cards WHERE user_pk = :user_pk AND (expires_at IS NULL OR expires_at > :now)
    ORDER BY created_at""")

USER_KBA_QUESTIONS = _stmt("user_kba_questions", """
    SELECT id, question, answer_hash FROM kba_answers WHERE user_pk = :user_pk
    ORDER BY created_at""")

USER_TEMP_CODES = _stmt("user_temp_codes", """
    SELECT id, code_hash, expires_at, uses, max_uses FROM temp_access_codes
    WHERE user_pk = :user_pk""")

# Only while a use is left: concurrent logins can't exceed max_uses.
COUNT_TEMP_CODE_USE = _stmt("count_temp_code_use", """
    UPDATE temp_access_codes SET uses = uses + 1 WHERE id = :id AND uses < max_uses""")

# -- Entrust IDP (flows/factors/idp.py) ------------------------------------

_OIDC_PROVIDER = "id, issuer, client_id, client_secret, scopes, entrust_redirect_uri"

# The one provider an application offers to Entrust IDP (the admin API keeps
# it to one; the order only makes a second, if any, never win by chance).
ENTRUST_IDP_PROVIDER = _stmt("entrust_idp_provider", f"""
    SELECT {_OIDC_PROVIDER} FROM oidc_providers
    WHERE application_id = :app_id AND entrust_redirect_uri IS NOT NULL
    ORDER BY created_at, id LIMIT 1""")

OIDC_PROVIDER_OF_APP = _stmt("oidc_provider_of_app", f"""
    SELECT {_OIDC_PROVIDER} FROM oidc_providers
    WHERE id = :provider_id AND application_id = :app_id""")

OIDC_LINK_USER = _stmt("oidc_link_user", """
    SELECT user_pk FROM oidc_links WHERE provider_id = :provider_id AND subject = :subject""")

USER_EMAIL_PROOF = _stmt("user_email_proof", """
    SELECT email_key, email_verified_at FROM users WHERE pk = :pk""")

# A concurrent login that linked the same subject first wins; both were the
# same user (checked before the write).
INSERT_OIDC_LINK = _stmt("insert_oidc_link", """
    INSERT INTO oidc_links (provider_id, subject, user_pk, created_at, last_login_at)
    VALUES (:provider_id, :subject, :user_pk, :now, :now)
    ON CONFLICT DO NOTHING""")

_MACHINE = ("id, user_pk, label, sequence_hash, fingerprint_hash, created_at, expires_at, "
            "last_used_at, revoked_at")

# The user's usable machines (MACHINE's availability, userMachineSettings).
USER_MACHINES = _stmt("user_machines", f"""
    SELECT {_MACHINE} FROM machines
    WHERE user_pk = :user_pk AND revoked_at IS NULL AND expires_at > :now
    ORDER BY created_at DESC""")

# Revoked and expired ones too: a revoked machine's nonce answers
# machine_revoked, not invalid_machine.
MACHINE_BY_NONCE = _stmt("machine_by_nonce", f"""
    SELECT {_MACHINE} FROM machines WHERE nonce_hash = :nonce_hash AND user_pk = :user_pk""")

# Only from the sequence nonce that was verified: of concurrent uses of
# one sequence nonce exactly one rotates it.
ROTATE_MACHINE_SEQUENCE = _stmt("rotate_machine_sequence", """
    UPDATE machines SET sequence_hash = :next_hash, last_used_at = :now
    WHERE id = :id AND sequence_hash = :sequence_hash AND revoked_at IS NULL""")

REVOKE_MACHINE = _stmt("revoke_machine", """
    UPDATE machines SET revoked_at = :now, revoked_reason = :reason
    WHERE id = :id AND revoked_at IS NULL""")

INSERT_MACHINE = _stmt("insert_machine", """
    INSERT INTO machines (id, user_pk, label, nonce_hash, sequence_hash, fingerprint_hash,
                          created_at, expires_at, last_used_at, revoked_at, revoked_reason)
    VALUES (:id, :user_pk, :label, :nonce_hash, :sequence_hash, :fingerprint_hash,
            :now, :expires_at, NULL, NULL, NULL)""")

# Beyond the newest `keep` usable machines (by last use, else
# registration), revoke: a user registering one machine too many loses the
# least recently used.
REVOKE_SURPLUS_MACHINES = _stmt("revoke_surplus_machines", """
    UPDATE machines SET revoked_at = :now, revoked_reason = 'surplus'
    WHERE user_pk = :user_pk AND revoked_at IS NULL AND id NOT IN (
        SELECT id FROM machines
        WHERE user_pk = :user_pk AND revoked_at IS NULL AND expires_at > :now
        ORDER BY COALESCE(last_used_at, created_at) DESC, created_at DESC, id
        LIMIT :keep)""")

_PASSKEY = ("id, user_pk, rp_id, credential_id, public_key, sign_count, aaguid, "
            "backup_eligible, backup_state, name, transports, created_at, last_used_at, "
            "last_used_device")

USER_PASSKEYS = _stmt("user_passkeys", f"""
    SELECT {_PASSKEY} FROM passkeys WHERE user_pk = :user_pk ORDER BY created_at""")

PASSKEY_BY_CREDENTIAL_ID = _stmt("passkey_by_credential_id", f"""
    SELECT {_PASSKEY} FROM passkeys WHERE credential_id = :credential_id""")

BLOCKED_AAGUIDS_AT_AUTH = _stmt("blocked_aaguids_at_auth", """
    SELECT aaguid FROM aaguid_blocklist WHERE application_id = :app_id AND auth""")

EXTERNAL_VERIFIER = _stmt("external_verifier", """
    SELECT url, secret, timeout_ms FROM external_verifiers WHERE application_id = :app_id""")

# Compare-and-set on the counter that was verified: of two concurrent
# assertions with the same counter only one wins.
RECORD_PASSKEY_USE = _stmt("record_passkey_use", """
    UPDATE passkeys SET sign_count = :sign_count, backup_state = :backup_state,
                        last_used_at = :now
    WHERE id = :id AND sign_count = :old_sign_count""")

# The same, recording the device LoginID's SDK described.
RECORD_PASSKEY_USE_FROM_DEVICE = _stmt("record_passkey_use_from_device", """
    UPDATE passkeys SET sign_count = :sign_count, backup_state = :backup_state,
                        last_used_at = :now, last_used_device = :device
    WHERE id = :id AND sign_count = :old_sign_count""")

# The device a passkey was used from (flows/devices.py): made on first use,
# touched after; the name stays what the user chose.
RECORD_DEVICE_USE = _stmt("record_device_use", """
    INSERT INTO devices (id, user_pk, device_id, name, info, created_at, last_used_at)
    VALUES (:id, :user_pk, :device_id, :name, :info, :now, :now)
    ON CONFLICT (user_pk, device_id)
    DO UPDATE SET info = excluded.info, last_used_at = excluded.last_used_at""")

FLAG_PASSKEY = _stmt("flag_passkey", """
    UPDATE passkeys SET flagged_at = :now WHERE id = :id""")

# -- the consumer API ---------------------------------------------------------

# Login by email, else by userId, both by folded key: the candidates and
# their passwords in one read (ix_users_email_key OR ux_users_user_key).
# `by_email` lets the caller prefer email matches, so another user's userId
# can never shadow an email address; at most one row matches by userId, so
# three rows are enough to see whether the email match is ambiguous. An
# unproved sign-up (pending_since) can't sign in, and must not make the
# address ambiguous for its real owner either.
CONSUMER_LOGIN_USERS = _stmt("consumer_login_users", f"""
    SELECT {_USER}, p.hash, p.expires_at AS password_expires_at,
           u.email_key = :key AS by_email
    FROM users u LEFT JOIN passwords p ON p.user_pk = u.pk
    WHERE (u.email_key = :key OR u.user_key = :key) AND u.pending_since IS NULL
    LIMIT 3""")

REHASH_PASSWORD = _stmt("rehash_password", """
    UPDATE passwords SET hash = :hash WHERE user_pk = :user_pk AND hash = :old_hash""")

INSERT_CONSUMER_SESSION = _stmt("insert_consumer_session", """
    INSERT INTO consumer_sessions (id, token_hash, user_pk, kind, created_at, last_used_at,
                                   expires_at, absolute_expires_at, step_up_at,
                                   step_up_method, revoked_at)
    VALUES (:id, :token_hash, :user_pk, :kind, :now, :now, :expires_at,
            :absolute_expires_at, NULL, NULL, NULL)""")

# The caller's session and its user, in one read.
CONSUMER_SESSION = _stmt("consumer_session", f"""
    SELECT s.id AS session_id, s.kind, s.created_at AS session_created_at,
           s.expires_at AS session_expires_at, s.absolute_expires_at, s.step_up_at,
           s.step_up_method, s.revoked_at, {_USER}
    FROM consumer_sessions s LEFT JOIN users u ON u.pk = s.user_pk
    WHERE s.token_hash = :token_hash""")

# Whether a consumer access token's session (its `sid`) is still live.
CONSUMER_SESSION_BY_ID = _stmt("consumer_session_by_id", """
    SELECT expires_at, absolute_expires_at, revoked_at FROM consumer_sessions WHERE id = :id""")

# The sliding idle expiry, on every authenticated call.
SLIDE_CONSUMER_SESSION = _stmt("slide_consumer_session", """
    UPDATE consumer_sessions SET last_used_at = :now, expires_at = :expires_at
    WHERE id = :id AND revoked_at IS NULL""")

USER_GROUPS = _stmt("user_groups", """
    SELECT g.id, g.display_name FROM groups g
    JOIN group_members m ON m.group_id = g.id
    WHERE m.member_id = :user_pk ORDER BY g.display_name, g.id""")

# -- SCIM reads ----------------------------------------------------------------

_SCIM_USER = """pk, user_id, email, phone, first_name, last_name, active, created_at, version,
    updated_at, external_id, display_name, nick_name, profile_url, title, user_type,
    preferred_language, locale, timezone, name_formatted, name_middle, name_prefix,
    name_suffix, employee_number, cost_center, organization, division, department,
    manager_id"""

# Every admin-API and SCIM call checks its bearer key (interceptors.py).
ADMIN_KEY_SCOPES = _stmt("admin_key_scopes", """
    SELECT scopes FROM admin_keys WHERE key_hash = :key_hash""")

# SCIM never sees a pending self sign-up (flows/signup.py): an IdP that
# matched one by userName would adopt an account an attacker opened.
SCIM_USER_BY_PK = _stmt("scim_user_by_pk", f"""
    SELECT {_SCIM_USER} FROM users WHERE pk = :pk AND pending_since IS NULL""")

# `userName eq "..."`: userName is not case-exact (ux_users_user_key).
SCIM_USER_BY_USER_NAME = _stmt("scim_user_by_user_name", f"""
    SELECT {_SCIM_USER} FROM users WHERE user_key = :user_key AND pending_since IS NULL""")

SCIM_USER_VALUES = _stmt("scim_user_values", """
    SELECT attribute, position, value, display, type, "primary", formatted, street_address,
           locality, region, postal_code, country
    FROM user_values WHERE user_pk = :user_pk""")

# -- outcomes -----------------------------------------------------------------

INSERT_SESSION = _stmt("insert_session", """
    INSERT INTO sessions (id, user_pk, application_id, created_at, expires_at, revoked_at)
    VALUES (:id, :user_pk, :application_id, :now, :expires_at, NULL)""")

SESSION_REVOKED_AT = _stmt("session_revoked_at", """
    SELECT revoked_at, user_pk, application_id FROM sessions WHERE id = :id""")

# A refresh (flows/refresh.py): the session's state with its user and
# application, in one statement.
SESSION_FOR_REFRESH = _stmt("session_for_refresh", f"""
    SELECT s.revoked_at, s.refresh_id, {_APP}, {_USER} FROM sessions s
    JOIN users u ON u.pk = s.user_pk JOIN applications a ON a.id = s.application_id
    WHERE s.id = :id""")

# Rotation by compare-and-set: of two redemptions of one refresh token, one
# moves the row on and the other finds it moved.
ROTATE_REFRESH = _stmt("rotate_refresh", """
    UPDATE sessions SET refresh_id = :new_id, expires_at = :expires_at
    WHERE id = :id AND refresh_id = :old_id AND revoked_at IS NULL""")

REVOKE_SESSION = _stmt("revoke_session", """
    UPDATE sessions SET revoked_at = :now, refresh_id = NULL
    WHERE id = :id AND revoked_at IS NULL""")

INSERT_AUDIT_EVENT = _stmt("insert_audit_event", """
    INSERT INTO audit_events (ts, event, outcome, reason, application_id, user_id,
                              authenticator, client_ip, request_id)
    VALUES (:now, :event, :outcome, :reason, :application_id, :user_id, :authenticator,
            :client_ip, :request_id)""")

# -- the outbox (delivery/outbox.py) and its dispatcher (delivery/dispatcher.py)

# Codes live at most OUTBOX_TEXT_SECONDS (delivery/outbox.py); after that a
# message keeps only its metadata, and one still waiting for a channel will
# never go.
PRUNE_OUTBOX_TEXT = _stmt("prune_outbox_text", """
    UPDATE outbox SET sealed_text = NULL,
                      status = CASE WHEN status = 'pending' THEN 'expired' ELSE status END
    WHERE created_at < :before AND sealed_text IS NOT NULL""")

# The message a challenge needs, written in the challenge's own transaction.
INSERT_OUTBOX_MESSAGE = _stmt("insert_outbox_message", """
    INSERT INTO outbox (user_pk, channel, address, created_at, kind, application_id, status,
                        attempts, next_attempt_at, expires_at, sealed_text)
    VALUES (:user_pk, :channel, :address, :now, :kind, :application_id, :status, 0, :now,
            :expires_at, :sealed_text)""")

# The dispatcher's statements. `:m0`..`:m3` are the media this process has a
# channel for (unused slots repeat one), so a replica without SMTP never
# claims an email. A claimed message stays `pending` with `next_attempt_at`
# moved a lease ahead: a process that dies while sending leaves it to be
# tried again once the lease is over.
_DUE = ("o.status = 'pending' AND o.next_attempt_at <= :now "
        "AND o.channel IN (:m0, :m1, :m2, :m3)")

# Whether anything is due, and how many messages wait (the queue-depth
# gauge): a read on ix_outbox_status_next_attempt_at, so the poll of an idle
# outbox takes no write lock.
OUTBOX_PENDING = _stmt("outbox_pending", """
    SELECT COUNT(*) AS waiting,
           COALESCE(SUM(CASE WHEN o.next_attempt_at <= :now THEN 1 ELSE 0 END), 0) AS due
    FROM outbox o
    WHERE o.status = 'pending' AND o.channel IN (:m0, :m1, :m2, :m3)""")

# Messages whose challenge has expired: never sent, text dropped. (No
# subquery: PostgreSQL then re-checks every condition on a row a claim has
# just leased, and leaves it.)
EXPIRE_OUTBOX_MESSAGES = _stmt("expire_outbox_messages", f"""
    UPDATE outbox AS o SET status = 'expired', sealed_text = NULL
    WHERE {_DUE} AND o.expires_at <= :now""")

# Due messages, oldest first; PostgreSQL skips rows another process has
# locked in its claim, so concurrent claims never return one row twice.
CLAIM_DUE_OUTBOX_MESSAGES = _stmt("claim_due_outbox_messages", f"""
    SELECT o.id, o.user_pk, o.channel, o.address, o.kind, o.application_id, o.created_at,
           o.expires_at, o.attempts, o.sealed_text, a.name AS application_name
    FROM outbox o LEFT JOIN applications a ON a.id = o.application_id
    WHERE {_DUE} AND (o.expires_at IS NULL OR o.expires_at > :now)
    ORDER BY o.next_attempt_at, o.id LIMIT :limit""", pg_suffix=" FOR UPDATE OF o SKIP LOCKED")

LEASE_OUTBOX_MESSAGE = _stmt("lease_outbox_message", """
    UPDATE outbox SET next_attempt_at = :lease_until, attempts = attempts + 1
    WHERE id = :id""")

# The outcome of one attempt. `attempts` names the attempt: a process whose
# lease ran out (and whose message another process claimed again) changes
# nothing.
MARK_OUTBOX_SENT = _stmt("mark_outbox_sent", """
    UPDATE outbox SET status = 'sent', sent_at = :now, sealed_text = NULL, last_error = NULL
    WHERE id = :id AND status = 'pending' AND attempts = :attempts""")

RETRY_OUTBOX_MESSAGE = _stmt("retry_outbox_message", """
    UPDATE outbox SET next_attempt_at = :next_attempt_at, last_error = :error
    WHERE id = :id AND status = 'pending' AND attempts = :attempts""")

FAIL_OUTBOX_MESSAGE = _stmt("fail_outbox_message", """
    UPDATE outbox SET status = 'failed', sealed_text = NULL, last_error = :error
    WHERE id = :id AND status = 'pending' AND attempts = :attempts""")

# -- push devices (TOKENPUSH, SMARTCREDENTIALPUSH; flows/factors/push.py) ----

_PUSH_DEVICE = ("id, user_pk, serial_number, kind, label, public_key, certificate, not_after, "
                "counter")

USER_PUSH_DEVICES = _stmt("user_push_devices", f"""
    SELECT {_PUSH_DEVICE} FROM push_devices WHERE user_pk = :user_pk ORDER BY created_at""")

PUSH_DEVICE_BY_SERIAL = _stmt("push_device_by_serial", f"""
    SELECT {_PUSH_DEVICE} FROM push_devices WHERE serial_number = :serial_number""")

INSERT_PUSH_REQUEST = _stmt("insert_push_request", """
    INSERT INTO push_requests (id, user_pk, kind, challenge, details_hash, mutual_challenge,
                               status, device_id, created_at, expires_at, answered_at)
    VALUES (:id, :user_pk, :kind, :challenge, :details_hash, :mutual_challenge, 'PENDING',
            NULL, :now, :expires_at, NULL)""")

PUSH_REQUEST_BY_ID = _stmt("push_request_by_id", """
    SELECT id, user_pk, kind, challenge, details_hash, mutual_challenge, status, device_id,
           expires_at
    FROM push_requests WHERE id = :id""")

# Compare-and-set: a push is answered once, and only while it is live.
ANSWER_PUSH_REQUEST = _stmt("answer_push_request", """
    UPDATE push_requests SET status = :status, device_id = :device_id, answered_at = :now
    WHERE id = :id AND status = 'PENDING' AND expires_at > :now""")

# Compare-and-set: a device's answer counter only moves forwards, so a
# captured answer can't be sent again.
ADVANCE_PUSH_DEVICE_COUNTER = _stmt("advance_push_device_counter", """
    UPDATE push_devices SET counter = :counter WHERE id = :id AND counter < :counter""")

# Housekeeping (server.py's pruning loop): pushes and activation codes long
# past their expiry tell nothing any more.
PRUNE_PUSH_REQUESTS = _stmt("prune_push_requests", """
    DELETE FROM push_requests WHERE expires_at < :before""")

PRUNE_PUSH_ACTIVATIONS = _stmt("prune_push_activations", """
    DELETE FROM push_activations WHERE expires_at < :before""")

# -- magic links (MAGICLINK; flows/factors/magic_link.py, flows/magic_links.py)

_MAGIC_LINK = "id, token_hash, user_pk, application_id, status, expires_at"

INSERT_MAGIC_LINK = _stmt("insert_magic_link", """
    INSERT INTO magic_links (id, token_hash, user_pk, application_id, status, created_at,
                             expires_at, answered_at)
    VALUES (:id, :token_hash, :user_pk, :application_id, 'PENDING', :now, :expires_at, NULL)""")

MAGIC_LINK_BY_ID = _stmt("magic_link_by_id", f"""
    SELECT {_MAGIC_LINK} FROM magic_links WHERE id = :id""")

# With the application's settings: a confirmed link's answer names the
# application's redirectUrl without a second read.
MAGIC_LINK_BY_TOKEN_HASH = _stmt("magic_link_by_token_hash", f"""
    SELECT {", ".join("m." + c for c in _MAGIC_LINK.split(", "))}, a.settings AS app_settings
    FROM magic_links m JOIN applications a ON a.id = m.application_id
    WHERE m.token_hash = :token_hash""")

# Compare-and-set: the link's page answers once, and only while it is live.
ANSWER_MAGIC_LINK = _stmt("answer_magic_link", """
    UPDATE magic_links SET status = :status, answered_at = :now
    WHERE token_hash = :token_hash AND status = 'PENDING' AND expires_at > :now""")

# Compare-and-set: the complete that signs in uses the link up, confirmed by
# its page (:from_status CONFIRMED) or, the same browser completing with the
# token, still PENDING and live.
USE_MAGIC_LINK = _stmt("use_magic_link", """
    UPDATE magic_links SET status = 'USED', answered_at = COALESCE(answered_at, :now)
    WHERE id = :id AND status = :from_status AND (status = 'CONFIRMED' OR expires_at > :now)""")

PRUNE_MAGIC_LINKS = _stmt("prune_magic_links", """
    DELETE FROM magic_links WHERE expires_at < :before""")

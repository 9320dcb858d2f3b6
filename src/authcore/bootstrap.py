"""First start: signing key, admin key and a demo application.

Each step is idempotent, so every start runs them and only the first one
creates anything.
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authcore.config import Settings
from authcore.crypto.seal import Sealer
from authcore.flows.management import create_application
from authcore.flows.policy import DEFAULT_AUTHENTICATORS, NEW_APPLICATION, WebAuthnPolicy
from authcore.interceptors import hash_admin_key
from authcore.store.db import create_engine, session_factory
from authcore.store.models import AdminKey, Application, SigningKeyRow
from authcore.store.write_lock import SqliteWriteLock
from authcore.tokens.jwt import SigningKey, generate_signing_key


@dataclass(frozen=True)
class Bootstrap:
    signing_keys: list[SigningKey]
    # Set only when this start created them, so they can be shown once.
    new_admin_key: str | None
    new_application_id: str | None


def _key_aad(kid: str) -> bytes:
    return f"signing_key:{kid}".encode()


async def _signing_keys(db: async_sessionmaker[AsyncSession], sealer: Sealer,
                        now: float) -> list[SigningKey]:
    async def load() -> list[SigningKey]:
        async with db() as s:
            rows = (await s.execute(
                select(SigningKeyRow).where(SigningKeyRow.retired_at.is_(None))
                .order_by(SigningKeyRow.created_at.desc())
            )).scalars().all()
        return [SigningKey(kid=r.kid, private_pem=sealer.open(r.sealed_private_pem,
                                                              aad=_key_aad(r.kid)))
                for r in rows]

    keys = await load()
    if keys:
        return keys
    key = generate_signing_key()
    try:
        async with db() as s, s.begin():
            s.add(SigningKeyRow(kid=key.kid,
                                sealed_private_pem=sealer.seal(key.private_pem,
                                                               aad=_key_aad(key.kid)),
                                created_at=now, retired_at=None))
    except IntegrityError:
        pass
    # Another process may have won the race to create the first key; every
    # process then signs with the newest one.
    return await load()


async def _admin_key(db: async_sessionmaker[AsyncSession], preset: str | None,
                     now: float) -> str | None:
    async with db() as s, s.begin():
        if preset:
            digest = hash_admin_key(preset)
            exists = (await s.execute(
                select(AdminKey).where(AdminKey.key_hash == digest))).scalar_one_or_none()
            if exists is None:
                s.add(AdminKey(id=str(uuid.uuid4()), name="AUTHCORE_ADMIN_KEY",
                               key_hash=digest, scopes=["*"], created_at=now))
            return None
        if (await s.execute(select(AdminKey.id).limit(1))).first() is not None:
            return None
        key = "ak_" + secrets.token_urlsafe(32)
        s.add(AdminKey(id=str(uuid.uuid4()), name="bootstrap", key_hash=hash_admin_key(key),
                       scopes=["*"], created_at=now))
        return key


async def create_admin_key(settings: Settings, *, name: str, scopes: list[str]) -> str:
    """A new admin key with `scopes` (e.g. ["scim"] for an identity provider
    that provisions users). Only its SHA-256 is stored."""
    engine = create_engine(settings.effective_database_url)
    # A running server's writers queue on this lock; taking it too keeps
    # this process from ever making theirs wait in SQLite's busy handler,
    # which would stall their event loops (store/sqlite_inline.py).
    # (Without a SQLite file it is only a local lock, which costs nothing.)
    lock = SqliteWriteLock(settings.sqlite_file)
    try:
        async with lock, session_factory(engine)() as s, s.begin():
            key = "ak_" + secrets.token_urlsafe(32)
            s.add(AdminKey(id=str(uuid.uuid4()), name=name[:255],
                           key_hash=hash_admin_key(key), scopes=sorted(set(scopes)),
                           created_at=time.time()))
        return key
    finally:
        lock.close()
        await engine.dispose()


async def _demo_application(db: async_sessionmaker[AsyncSession], http_addr: str,
                            now: float) -> str | None:
    async with db() as s, s.begin():
        if (await s.execute(select(Application.id).limit(1))).first() is not None:
            return None
        # Browsers accept "localhost" as a secure context and RP ID; the demo
        # page is therefore served as http://localhost:<port>.
        port = http_addr.rpartition(":")[2]
        webauthn = WebAuthnPolicy(rp_id="localhost", rp_name="Demo application",
                                  origins=(f"http://localhost:{port}",))
        app = await create_application(s, name="Demo application",
                                       authenticators=list(DEFAULT_AUTHENTICATORS),
                                       policy=NEW_APPLICATION, now=now, webauthn=webauthn)
        return app.id


async def _consumer_application(db: async_sessionmaker[AsyncSession], application_id: str,
                                now: float) -> None:
    """The application the consumer API's sessions belong to; its policy
    (5 failures, 30 minutes' lockout by default) is the consumer lockout."""
    try:
        async with db() as s, s.begin():
            if await s.get(Application, application_id) is not None:
                return
            await create_application(s, name="Consumer API", authenticators=["PASSWORD", "OTP"],
                                     policy=NEW_APPLICATION, now=now, application_id=application_id)
    except IntegrityError:
        pass  # another replica created it first


async def bootstrap(settings: Settings, db: async_sessionmaker[AsyncSession], sealer: Sealer,
                    now: float) -> Bootstrap:
    boot = Bootstrap(
        signing_keys=await _signing_keys(db, sealer, now),
        new_admin_key=await _admin_key(db, settings.admin_key, now),
        # Before the consumer application: the demo is made only on an
        # empty database.
        new_application_id=await _demo_application(db, settings.http_addr, now),
    )
    await _consumer_application(db, settings.consumer_application_id, now)
    return boot

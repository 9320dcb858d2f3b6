"""Self sign-up, and what keeps it from pre-hijacking accounts.

An application lets anyone create an account only when its policy says so
(`AppPolicy.self_sign_up`, off by default, as in Keycloak and Zitadel). A
self-registered username that is an email address is *pending*
(`users.pending_since`) until the mailed code proves the address:
- a pending user cannot sign in through any API (it is stored inactive);
- SCIM never lists, filters, returns or adopts it;
- a SCIM or admin create of the same name replaces it, dropping its
  passkeys and everything else it holds (foreign keys cascade), and so does
  a new sign-up of the name.
Without this, an attacker registers `ceo@corp.example` first and the IdP's
later provisioning adopts the attacker's account and passkey.
"""

from __future__ import annotations

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from authcore.errors import PermissionDenied
from authcore.identifiers import username_key
from authcore.store.models import User


def needs_proof(username: str) -> bool:
    """A self-registered username that names a mailbox must prove it."""
    return "@" in username


def verification_required() -> PermissionDenied:
    return PermissionDenied(
        "The account waits for its email address to be proved: enter the code sent "
        "to it (POST /fido2/v2/auth/otp/verify) to finish signing up.",
        reason="email_verification_required")


async def activate(db: AsyncSession, *, user_pk: str, now: float) -> bool:
    """The address is proved: the account becomes usable. False when it is
    no longer pending (replaced or activated meanwhile)."""
    result = await db.execute(update(User).where(
        User.pk == user_pk, User.pending_since.is_not(None)
    ).values(active=True, pending_since=None, updated_at=now, version=User.version + 1,
             # The code went to the user's email address (LoginID reg/complete).
             email_verified_at=now))
    return bool(getattr(result, "rowcount", 0))


async def drop_unproved(db: AsyncSession, *, user_id: str) -> bool:
    """Delete the pending user of this name, if any, in the caller's
    transaction; True when there was one."""
    result = await db.execute(delete(User).where(
        User.user_key == username_key(user_id), User.pending_since.is_not(None)))
    return bool(getattr(result, "rowcount", 0))

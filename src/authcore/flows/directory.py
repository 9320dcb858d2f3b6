"""Looking up applications and users, with the errors the APIs expect."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from authcore.errors import InvalidArgument, NotFound, PermissionDenied
from authcore.identifiers import IdentifierError, enforce_username, username_key
from authcore.store.hot import Fetcher
from authcore.store.hot import queries as hq
from authcore.store.hot.queries import AppRow, UserRow
from authcore.store.models import Application, User


def _required(value: str, field: str) -> None:
    if not value:
        raise InvalidArgument(f"{field} is required.", reason="missing_field",
                              field_violations=[(field, "is required")])


def _application_not_found() -> NotFound:
    return NotFound("The application was not found.", reason="application_not_found")


def _user_not_found() -> NotFound:
    return NotFound("The user was not found.", reason="user_not_found")


def _user_disabled() -> PermissionDenied:
    return PermissionDenied("The user is disabled.", reason="user_disabled")


def valid_username(raw: str, field: str) -> str:
    """The stored form of a new username, or a 400 naming `field` (the
    API's own name for it: userId, user.username)."""
    try:
        return enforce_username(raw)
    except IdentifierError as exc:
        raise InvalidArgument(f"{field} {exc.problem}.", reason=exc.reason,
                              field_violations=[(field, exc.problem)]) from None


async def get_application(db: AsyncSession, application_id: str) -> Application:
    _required(application_id, "applicationId")
    app = await db.get(Application, application_id[:36])
    if app is None:
        raise _application_not_found()
    return app


async def find_user(db: AsyncSession, user_id: str) -> User | None:
    """The user named by `user_id`, matched on its folded key (without regard
    to case, width or Unicode normalisation; authcore/identifiers.py)."""
    return (
        await db.execute(select(User).where(User.user_key == username_key(user_id)))
    ).scalar_one_or_none()


async def get_user(db: AsyncSession, user_id: str) -> User:
    _required(user_id, "userId")
    user = await find_user(db, user_id)
    if user is None:
        raise _user_not_found()
    return user


async def get_active_user(db: AsyncSession, user_id: str) -> User:
    user = await get_user(db, user_id)
    if not user.active:
        raise _user_disabled()
    return user


# -- the hot paths' variants (raw driver, store/hot) -----------------------------

async def hot_application(hot: Fetcher, application_id: str) -> AppRow:
    _required(application_id, "applicationId")
    app = await hq.load_application(hot, application_id[:36])
    if app is None:
        raise _application_not_found()
    return app


async def hot_active_user(hot: Fetcher, user_id: str) -> UserRow:
    _required(user_id, "userId")
    user = await hq.load_user_by_user_id(hot, user_id)
    if user is None:
        raise _user_not_found()
    if not user.active:
        raise _user_disabled()
    return user

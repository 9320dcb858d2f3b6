"""Looking up applications and users, with the errors the APIs expect."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from authcore.errors import InvalidArgument, NotFound, PermissionDenied
from authcore.store.hot import Fetcher
from authcore.store.hot import queries as hq
from authcore.store.hot.queries import AppRow, UserRow
from authcore.store.models import Application, User


async def get_application(db: AsyncSession, application_id: str) -> Application:
    if not application_id:
        raise InvalidArgument("applicationId is required.", reason="missing_field",
                              field_violations=[("applicationId", "is required")])
    app = await db.get(Application, application_id[:36])
    if app is None:
        raise NotFound("The application was not found.", reason="application_not_found")
    return app


async def find_user(db: AsyncSession, user_id: str) -> User | None:
    return (
        await db.execute(select(User).where(User.user_id == user_id))
    ).scalar_one_or_none()


async def get_user(db: AsyncSession, user_id: str) -> User:
    if not user_id:
        raise InvalidArgument("userId is required.", reason="missing_field",
                              field_violations=[("userId", "is required")])
    user = await find_user(db, user_id)
    if user is None:
        raise NotFound("The user was not found.", reason="user_not_found")
    return user


async def get_active_user(db: AsyncSession, user_id: str) -> User:
    user = await get_user(db, user_id)
    if not user.active:
        raise PermissionDenied("The user is disabled.", reason="user_disabled")
    return user


# -- the hot paths' variants (raw driver, store/hot) -----------------------------

async def hot_application(hot: Fetcher, application_id: str) -> AppRow:
    if not application_id:
        raise InvalidArgument("applicationId is required.", reason="missing_field",
                              field_violations=[("applicationId", "is required")])
    app = await hq.load_application(hot, application_id[:36])
    if app is None:
        raise NotFound("The application was not found.", reason="application_not_found")
    return app


async def hot_active_user(hot: Fetcher, user_id: str) -> UserRow:
    if not user_id:
        raise InvalidArgument("userId is required.", reason="missing_field",
                              field_violations=[("userId", "is required")])
    user = await hq.load_user_by_user_id(hot, user_id)
    if user is None:
        raise NotFound("The user was not found.", reason="user_not_found")
    if not user.active:
        raise PermissionDenied("The user is disabled.", reason="user_disabled")
    return user

"""The devices a user signed in from (LoginID devices), by the SDK's
`deviceInfo.deviceId`.

A device is recorded when a passkey is registered (here, in the flow's ORM
transaction) or used from it (the hot path's own statement,
`statements.RECORD_DEVICE_USE`, in `flows/passkeys.finish_authentication`).
The id is the client's choice and not secret: it only groups what one
client did, and is unique per user, not across users.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from authcore.store.models import Device

MAX_DEVICE_ID_CHARS = 255
MAX_NAME_CHARS = 255


def device_id_of(device: dict[str, Any] | None) -> str | None:
    value = (device or {}).get("deviceId")
    if isinstance(value, str) and 0 < len(value.strip()) <= MAX_DEVICE_ID_CHARS:
        return value.strip()
    return None


def default_name(device: dict[str, Any]) -> str:
    """LoginID's look: "Windows 10 (x86_64)", else the client's name."""
    os_name = " ".join(str(device.get(k) or "").strip() for k in ("osName", "osVersion")).strip()
    arch = str(device.get("osArch") or "").strip()
    if os_name:
        name = f"{os_name} ({arch})" if arch else os_name
    else:
        name = str(device.get("clientName") or "").strip() or "Unknown device"
    return name[:MAX_NAME_CHARS]


async def record_use(db: AsyncSession, *, user_pk: str, device: dict[str, Any] | None,
                     now: float) -> None:
    """Create or touch the device `device` names, if it names one."""
    device_id = device_id_of(device)
    if device_id is None or device is None:
        return
    row = (await db.execute(select(Device).where(
        Device.user_pk == user_pk, Device.device_id == device_id))).scalar_one_or_none()
    if row is None:
        db.add(Device(id=str(uuid.uuid4()), user_pk=user_pk, device_id=device_id,
                      name=default_name(device), info=device, created_at=now,
                      last_used_at=now))
    else:
        row.info, row.last_used_at = device, now


async def user_devices(db: AsyncSession, user_pk: str) -> list[Device]:
    return list((await db.execute(
        select(Device).where(Device.user_pk == user_pk)
        .order_by(Device.created_at, Device.id))).scalars())


async def find_device(db: AsyncSession, user_pk: str, device_id: str) -> Device | None:
    return (await db.execute(select(Device).where(
        Device.user_pk == user_pk, Device.device_id == device_id))).scalar_one_or_none()

"""The admin API's view of users' machines (MACHINE): list and revoke."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import select, update

from authcore.errors import NotFound
from authcore.flows.context import Core
from authcore.flows.directory import get_user
from authcore.store.models import Machine
from authcore.v1 import management_pb2 as mgmt


def _ts(epoch: float) -> Timestamp:
    return Timestamp(seconds=int(epoch), nanos=int((epoch % 1) * 1e9))


def machine_message(m: Machine) -> mgmt.UserMachine:
    msg = mgmt.UserMachine(machine_id=m.id, label=m.label, created_at=_ts(m.created_at),
                           expires_at=_ts(m.expires_at),
                           has_fingerprint=m.fingerprint_hash is not None)
    if m.last_used_at is not None:
        msg.last_used_at.CopyFrom(_ts(m.last_used_at))
    return msg


class MachineAdmin:
    def __init__(self, core: Core) -> None:
        self.core = core

    async def list_user_machines(
        self, req: mgmt.ListUserMachinesRequest
    ) -> mgmt.ListUserMachinesResponse:
        now = self.core.clock()
        async with self.core.read() as db:
            user = await get_user(db, req.user_id)
            rows = (await db.execute(select(Machine).where(
                Machine.user_pk == user.pk, Machine.revoked_at.is_(None),
                Machine.expires_at > now).order_by(Machine.created_at.desc()))).scalars()
            return mgmt.ListUserMachinesResponse(machines=[machine_message(m) for m in rows])

    async def delete_user_machine(
        self, req: mgmt.DeleteUserMachineRequest
    ) -> mgmt.DeleteUserMachineResponse:
        # Revoked, not deleted: a later use of its nonce is then told apart
        # (machine_revoked) from a nonce that was never issued.
        now = self.core.clock()
        async with self.core.write() as db:
            user = await get_user(db, req.user_id)
            done = await db.execute(update(Machine).where(
                Machine.id == req.machine_id[:36], Machine.user_pk == user.pk,
                Machine.revoked_at.is_(None)).values(revoked_at=now, revoked_reason="admin"))
            if done.rowcount != 1:  # type: ignore[attr-defined]
                raise NotFound("The user has no such machine.", reason="machine_not_found")
        return mgmt.DeleteUserMachineResponse()

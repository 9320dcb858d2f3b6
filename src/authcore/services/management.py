"""ManagementService: administration behind an admin key (checked by the
AdminAuthInterceptor from the method options)."""

from __future__ import annotations

from typing import TypeAlias

import grpc

from authcore.flows.machines_admin import MachineAdmin
from authcore.flows.management import ManagementFlow, PasskeyAdmin
from authcore.v1 import management_pb2 as mgmt
from authcore.v1 import management_pb2_grpc

Ctx: TypeAlias = grpc.aio.ServicerContext


class ManagementService(management_pb2_grpc.ManagementServiceServicer):
    def __init__(self, flow: ManagementFlow) -> None:
        self.flow = flow
        self.passkeys = PasskeyAdmin(flow.core)
        self.machines = MachineAdmin(flow.core)

    async def CreateApplication(
        self, request: mgmt.CreateApplicationRequest, context: Ctx
    ) -> mgmt.CreateApplicationResponse:
        return await self.flow.create_application(request)

    async def UpdateApplication(
        self, request: mgmt.UpdateApplicationRequest, context: Ctx
    ) -> mgmt.UpdateApplicationResponse:
        return await self.flow.update_application(request)

    async def GetApplication(
        self, request: mgmt.GetApplicationRequest, context: Ctx
    ) -> mgmt.GetApplicationResponse:
        return await self.flow.get_application(request)

    async def CreateUser(
        self, request: mgmt.CreateUserRequest, context: Ctx
    ) -> mgmt.CreateUserResponse:
        return await self.flow.create_user(request)

    async def GetUser(self, request: mgmt.GetUserRequest, context: Ctx
                      ) -> mgmt.GetUserResponse:
        return await self.flow.get_user(request)

    async def DeleteUser(self, request: mgmt.DeleteUserRequest, context: Ctx
                         ) -> mgmt.DeleteUserResponse:
        return await self.flow.delete_user(request)

    async def SetPassword(self, request: mgmt.SetPasswordRequest, context: Ctx
                          ) -> mgmt.SetPasswordResponse:
        return await self.flow.set_password(request)

    async def CreateToken(self, request: mgmt.CreateTokenRequest, context: Ctx
                          ) -> mgmt.CreateTokenResponse:
        return await self.flow.create_token(request)

    async def ResyncToken(self, request: mgmt.ResyncTokenRequest, context: Ctx
                          ) -> mgmt.ResyncTokenResponse:
        return await self.flow.resync_token(request)

    async def CreateGrid(self, request: mgmt.CreateGridRequest, context: Ctx
                         ) -> mgmt.CreateGridResponse:
        return await self.flow.create_grid(request)

    async def SetKba(self, request: mgmt.SetKbaRequest, context: Ctx
                     ) -> mgmt.SetKbaResponse:
        return await self.flow.set_kba(request)

    async def CreateTempAccessCode(
        self, request: mgmt.CreateTempAccessCodeRequest, context: Ctx
    ) -> mgmt.CreateTempAccessCodeResponse:
        return await self.flow.create_temp_access_code(request)

    async def UnlockUser(self, request: mgmt.UnlockUserRequest, context: Ctx
                         ) -> mgmt.UnlockUserResponse:
        return await self.flow.unlock_user(request)

    async def ListOutbox(self, request: mgmt.ListOutboxRequest, context: Ctx
                         ) -> mgmt.ListOutboxResponse:
        return await self.flow.list_outbox(request)

    async def IntrospectToken(
        self, request: mgmt.IntrospectTokenRequest, context: Ctx
    ) -> mgmt.IntrospectTokenResponse:
        return await self.flow.introspect(request)

    async def ListAaguidBlocks(
        self, request: mgmt.ListAaguidBlocksRequest, context: Ctx
    ) -> mgmt.ListAaguidBlocksResponse:
        return await self.passkeys.list_aaguid_blocks(request)

    async def AddAaguidBlock(
        self, request: mgmt.AddAaguidBlockRequest, context: Ctx
    ) -> mgmt.AddAaguidBlockResponse:
        return await self.passkeys.add_aaguid_block(request)

    async def DeleteAaguidBlock(
        self, request: mgmt.DeleteAaguidBlockRequest, context: Ctx
    ) -> mgmt.DeleteAaguidBlockResponse:
        return await self.passkeys.delete_aaguid_block(request)

    async def ListUserPasskeys(
        self, request: mgmt.ListUserPasskeysRequest, context: Ctx
    ) -> mgmt.ListUserPasskeysResponse:
        return await self.passkeys.list_user_passkeys(request)

    async def RenameUserPasskey(
        self, request: mgmt.RenameUserPasskeyRequest, context: Ctx
    ) -> mgmt.RenameUserPasskeyResponse:
        return await self.passkeys.rename_user_passkey(request)

    async def DeleteUserPasskey(
        self, request: mgmt.DeleteUserPasskeyRequest, context: Ctx
    ) -> mgmt.DeleteUserPasskeyResponse:
        return await self.passkeys.delete_user_passkey(request)

    async def ListUserMachines(
        self, request: mgmt.ListUserMachinesRequest, context: Ctx
    ) -> mgmt.ListUserMachinesResponse:
        return await self.machines.list_user_machines(request)

    async def DeleteUserMachine(
        self, request: mgmt.DeleteUserMachineRequest, context: Ctx
    ) -> mgmt.DeleteUserMachineResponse:
        return await self.machines.delete_user_machine(request)

    async def GetJwks(self, request: mgmt.GetJwksRequest, context: Ctx
                      ) -> mgmt.GetJwksResponse:
        return self.flow.jwks()

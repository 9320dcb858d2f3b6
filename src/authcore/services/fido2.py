"""Fido2Service: LoginID's FIDO2 client API (/fido2/v2)."""

from __future__ import annotations

from typing import TypeAlias

import grpc

from authcore import __version__
from authcore.flows.loginid import LoginIdFlow
from authcore.services.peer import authorization
from authcore.services.peer import loginid_caller as caller
from authcore.v1 import fido2_pb2 as fido2
from authcore.v1 import fido2_pb2_grpc

Ctx: TypeAlias = grpc.aio.ServicerContext


class Fido2Service(fido2_pb2_grpc.Fido2ServiceServicer):
    def __init__(self, flow: LoginIdFlow) -> None:
        self.flow = flow

    async def RegInit(self, request: fido2.RegInitRequest, context: Ctx
                      ) -> fido2.RegInitResponse:
        return await self.flow.reg_init(
            request, authorization(request.authorization, context), caller(context))

    async def RegComplete(self, request: fido2.RegCompleteRequest, context: Ctx
                          ) -> fido2.RegCompleteResponse:
        return fido2.RegCompleteResponse(
            jwt=await self.flow.reg_complete(request, caller(context)))

    async def AuthInit(self, request: fido2.AuthInitRequest, context: Ctx
                       ) -> fido2.AuthInitResponse:
        return await self.flow.auth_init(request, caller(context))

    async def AuthComplete(self, request: fido2.AuthCompleteRequest, context: Ctx
                           ) -> fido2.AuthCompleteResponse:
        return fido2.AuthCompleteResponse(
            jwt=await self.flow.auth_complete(request, caller(context)))

    async def TxInit(self, request: fido2.TxInitRequest, context: Ctx) -> fido2.TxInitResponse:
        return await self.flow.tx_init(request, caller(context))

    async def TxComplete(self, request: fido2.TxCompleteRequest, context: Ctx
                         ) -> fido2.TxCompleteResponse:
        return await self.flow.tx_complete(request, caller(context))

    async def ListPasskeys(self, request: fido2.ListPasskeysRequest, context: Ctx
                           ) -> fido2.ListPasskeysResponse:
        found = await self.flow.list_passkeys(authorization(request.authorization, context),
                                               caller(context))
        return fido2.ListPasskeysResponse(passkeys=found)

    async def RenamePasskey(self, request: fido2.RenamePasskeyRequest, context: Ctx
                            ) -> fido2.RenamePasskeyResponse:
        await self.flow.rename_passkey(request.id, request.name,
                                       authorization(request.authorization, context),
                                       caller(context))
        return fido2.RenamePasskeyResponse()

    async def DeletePasskey(self, request: fido2.DeletePasskeyRequest, context: Ctx
                            ) -> fido2.DeletePasskeyResponse:
        await self.flow.delete_passkey(request.id, authorization(request.authorization, context),
                                       caller(context))
        return fido2.DeletePasskeyResponse()

    async def GetAaguid(self, request: fido2.GetAaguidRequest, context: Ctx
                        ) -> fido2.GetAaguidResponse:
        found = await self.flow.get_aaguid(request.aaguid,
                                           authorization(request.authorization, context),
                                           caller(context))
        return fido2.GetAaguidResponse(aaguid=found)

    async def RequestAuthCode(self, request: fido2.RequestAuthCodeRequest, context: Ctx
                              ) -> fido2.RequestAuthCodeResponse:
        code = await self.flow.request_auth_code(authorization(request.authorization, context),
                                                 caller(context))
        return fido2.RequestAuthCodeResponse(auth_code=code)

    async def SendAuthCodeEmail(self, request: fido2.SendAuthCodeEmailRequest, context: Ctx
                                ) -> fido2.SendAuthCodeEmailResponse:
        await self.flow.send_auth_code(channel="EMAIL", username=request.user.username,
                                       app_id=request.app_id, origin=request.origin,
                                       caller=caller(context))
        return fido2.SendAuthCodeEmailResponse()

    async def SendAuthCodeSms(self, request: fido2.SendAuthCodeSmsRequest, context: Ctx
                              ) -> fido2.SendAuthCodeSmsResponse:
        await self.flow.send_auth_code(channel="SMS", username=request.user.username,
                                       app_id=request.app_id, origin=request.origin,
                                       caller=caller(context))
        return fido2.SendAuthCodeSmsResponse()

    async def VerifyAuthCode(self, request: fido2.VerifyAuthCodeRequest, context: Ctx
                             ) -> fido2.VerifyAuthCodeResponse:
        return fido2.VerifyAuthCodeResponse(
            jwt=await self.flow.verify_auth_code(request, caller(context)))

    async def SubmitClientEvent(self, request: fido2.SubmitClientEventRequest, context: Ctx
                                ) -> fido2.SubmitClientEventResponse:
        await self.flow.submit_client_event(
            request, authorization(request.authorization, context), caller(context))
        return fido2.SubmitClientEventResponse()

    async def GetVersion(self, request: fido2.GetVersionRequest, context: Ctx
                         ) -> fido2.GetVersionResponse:
        return fido2.GetVersionResponse(version=__version__, server="authcore")

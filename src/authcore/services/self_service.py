"""SelfService: Entrust's self-service FIDO token API for the signed-in user."""

from __future__ import annotations

from typing import TypeAlias

import grpc

from authcore.flows.offline_tokens import OfflineTokenFlow
from authcore.flows.self_service import SelfServiceFlow
from authcore.flows.self_values import SelfValuesFlow
from authcore.services.peer import authorization
from authcore.v1 import self_service_pb2 as selfsvc
from authcore.v1 import self_service_pb2_grpc

Ctx: TypeAlias = grpc.aio.ServicerContext


class SelfService(self_service_pb2_grpc.SelfServiceServicer):
    def __init__(self, flow: SelfServiceFlow) -> None:
        self.flow = flow
        self.offline = OfflineTokenFlow(flow.core, flow)

    async def StartFIDORegister(
        self, request: selfsvc.StartFIDORegisterRequest, context: Ctx
    ) -> selfsvc.StartFIDORegisterResponse:
        challenge = await self.flow.start_registration(
            authorization(request.authorization, context))
        return selfsvc.StartFIDORegisterResponse(challenge=challenge)

    async def CompleteFIDORegister(
        self, request: selfsvc.CompleteFIDORegisterRequest, context: Ctx
    ) -> selfsvc.CompleteFIDORegisterResponse:
        token = await self.flow.complete_registration(
            request, authorization(request.authorization, context))
        return selfsvc.CompleteFIDORegisterResponse(fido_token=token)

    async def GetSelfFIDOToken(
        self, request: selfsvc.GetSelfFIDOTokenRequest, context: Ctx
    ) -> selfsvc.GetSelfFIDOTokenResponse:
        token = await self.flow.get_token(authorization(request.authorization, context),
                                          request.fidoid)
        return selfsvc.GetSelfFIDOTokenResponse(fido_token=token)

    async def UpdateSelfFIDOToken(
        self, request: selfsvc.UpdateSelfFIDOTokenRequest, context: Ctx
    ) -> selfsvc.UpdateSelfFIDOTokenResponse:
        token = await self.flow.update_token(request,
                                             authorization(request.authorization, context))
        return selfsvc.UpdateSelfFIDOTokenResponse(fido_token=token)

    async def DeleteSelfFIDOToken(
        self, request: selfsvc.DeleteSelfFIDOTokenRequest, context: Ctx
    ) -> selfsvc.DeleteSelfFIDOTokenResponse:
        await self.flow.delete_token(authorization(request.authorization, context),
                                     request.fidoid)
        return selfsvc.DeleteSelfFIDOTokenResponse()

    async def GetOfflineTokenResponses(
        self, request: selfsvc.GetOfflineTokenResponsesRequest, context: Ctx
    ) -> selfsvc.GetOfflineTokenResponsesResponse:
        offline = await self.offline.batch(request,
                                           authorization(request.authorization, context))
        return selfsvc.GetOfflineTokenResponsesResponse(offline=offline)


class SelfValuesService(self_service_pb2_grpc.SelfValuesServiceServicer):
    def __init__(self, flow: SelfValuesFlow) -> None:
        self.flow = flow

    async def GetSelfValues(
        self, request: selfsvc.GetSelfValuesRequest, context: Ctx
    ) -> selfsvc.GetSelfValuesResponse:
        values = await self.flow.get(authorization(request.authorization, context))
        return selfsvc.GetSelfValuesResponse(values=values)

    async def DeleteSelfValues(
        self, request: selfsvc.DeleteSelfValuesRequest, context: Ctx
    ) -> selfsvc.DeleteSelfValuesResponse:
        values = await self.flow.delete(authorization(request.authorization, context),
                                        list(request.names))
        return selfsvc.DeleteSelfValuesResponse(values=values)

    async def SetSelfValues(
        self, request: selfsvc.SetSelfValuesRequest, context: Ctx
    ) -> selfsvc.SetSelfValuesResponse:
        values, pending = await self.flow.set(authorization(request.authorization, context),
                                              list(request.values))
        return selfsvc.SetSelfValuesResponse(values=values, pending=pending)

    async def VerifySelfValue(
        self, request: selfsvc.VerifySelfValueRequest, context: Ctx
    ) -> selfsvc.VerifySelfValueResponse:
        values = await self.flow.verify(authorization(request.authorization, context),
                                        name=request.name, code=request.code)
        return selfsvc.VerifySelfValueResponse(values=values)

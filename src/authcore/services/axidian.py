"""Axidian Access logon API v5: LogonService and TemplateSessionService."""

from __future__ import annotations

from typing import TypeAlias

import grpc

from authcore.axidian.v5 import logon_pb2 as pb
from authcore.axidian.v5 import logon_pb2_grpc
from authcore.flows.axidian import AxidianFlow
from authcore.services.peer import authorization, caller

Ctx: TypeAlias = grpc.aio.ServicerContext


class LogonService(logon_pb2_grpc.LogonServiceServicer):
    def __init__(self, flow: AxidianFlow) -> None:
        self.flow = flow

    async def IsAvailable(
        self, request: pb.IsAvailableRequest, context: Ctx
    ) -> pb.IsAvailableResponse:
        return await self.flow.is_available(request, caller(context))

    async def GetAvailableMethods(
        self, request: pb.GetAvailableMethodsRequest, context: Ctx
    ) -> pb.GetAvailableMethodsResponse:
        return await self.flow.get_available_methods(request, caller(context))

    async def Authenticate(
        self, request: pb.AuthenticateRequest, context: Ctx
    ) -> pb.AuthenticateResponse:
        return await self.flow.authenticate(request, caller(context))

    async def AuthenticateByWindowsToken(
        self, request: pb.AuthenticateByWindowsTokenRequest, context: Ctx
    ) -> pb.AuthenticateByWindowsTokenResponse:
        return await self.flow.authenticate_by_windows_token(
            request, authorization(request.authorization, context), caller(context))


class TemplateSessionService(logon_pb2_grpc.TemplateSessionServiceServicer):
    def __init__(self, flow: AxidianFlow) -> None:
        self.flow = flow

    async def OpenVerifySession(
        self, request: pb.OpenVerifySessionRequest, context: Ctx
    ) -> pb.OpenVerifySessionResponse:
        return await self.flow.open_verify_session(request, caller(context))

    async def PrepareTemplateData(
        self, request: pb.PrepareTemplateDataRequest, context: Ctx
    ) -> pb.PrepareTemplateDataResponse:
        await self.flow.prepare_template_data(request, caller(context))
        return pb.PrepareTemplateDataResponse()

    async def CreateTemplate(
        self, request: pb.CreateTemplateRequest, context: Ctx
    ) -> pb.CreateTemplateResponse:
        return await self.flow.create_template(request, caller(context))

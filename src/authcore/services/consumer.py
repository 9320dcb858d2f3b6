"""ConsumerService: the consumer email+password API (/consumer/v1)."""

from __future__ import annotations

from typing import TypeAlias

import grpc

from authcore.consumer.v1 import consumer_pb2 as pb
from authcore.consumer.v1 import consumer_pb2_grpc
from authcore.flows.consumer import ConsumerFlow
from authcore.services.peer import authorization, caller

Ctx: TypeAlias = grpc.aio.ServicerContext


class ConsumerService(consumer_pb2_grpc.ConsumerServiceServicer):
    def __init__(self, flow: ConsumerFlow) -> None:
        self.flow = flow

    async def Login(self, request: pb.LoginRequest, context: Ctx) -> pb.LoginResponse:
        return await self.flow.login(request, caller(context))

    async def UpdatePassword(
        self, request: pb.UpdatePasswordRequest, context: Ctx
    ) -> pb.UpdatePasswordResponse:
        return await self.flow.update_password(
            request, authorization(request.authorization, context), caller(context))

    async def ListIdentities(
        self, request: pb.ListIdentitiesRequest, context: Ctx
    ) -> pb.ListIdentitiesResponse:
        return await self.flow.list_identities(
            authorization(request.authorization, context), caller(context))

    async def CreateAccessToken(
        self, request: pb.CreateAccessTokenRequest, context: Ctx
    ) -> pb.CreateAccessTokenResponse:
        return await self.flow.create_access_token(
            request, authorization(request.authorization, context), caller(context))

    async def EnrollOtpFactor(
        self, request: pb.EnrollOtpFactorRequest, context: Ctx
    ) -> pb.EnrollOtpFactorResponse:
        await self.flow.enroll_otp(
            request, authorization(request.authorization, context), caller(context))
        return pb.EnrollOtpFactorResponse()

    async def VerifyOtpFactor(
        self, request: pb.VerifyOtpFactorRequest, context: Ctx
    ) -> pb.VerifyOtpFactorResponse:
        await self.flow.verify_otp_enrollment(
            request, authorization(request.authorization, context), caller(context))
        return pb.VerifyOtpFactorResponse()

    async def EnrollPushFactor(
        self, request: pb.EnrollPushFactorRequest, context: Ctx
    ) -> pb.EnrollPushFactorResponse:
        return await self.flow.enroll_push(
            request, authorization(request.authorization, context), caller(context))

    async def StartOtpStepUp(
        self, request: pb.StartOtpStepUpRequest, context: Ctx
    ) -> pb.StartOtpStepUpResponse:
        await self.flow.start_otp_step_up(
            authorization(request.authorization, context), caller(context))
        return pb.StartOtpStepUpResponse()

    async def VerifyOtpStepUp(
        self, request: pb.VerifyOtpStepUpRequest, context: Ctx
    ) -> pb.VerifyOtpStepUpResponse:
        await self.flow.verify_otp_step_up(
            request, authorization(request.authorization, context), caller(context))
        return pb.VerifyOtpStepUpResponse()

    async def StartPushStepUp(
        self, request: pb.StartPushStepUpRequest, context: Ctx
    ) -> pb.StartPushStepUpResponse:
        return await self.flow.start_push_step_up(
            request, authorization(request.authorization, context), caller(context))

    async def RespondPushStepUp(
        self, request: pb.RespondPushStepUpRequest, context: Ctx
    ) -> pb.RespondPushStepUpResponse:
        await self.flow.respond_push_step_up(request, caller(context))
        return pb.RespondPushStepUpResponse()

    async def GetPushStepUp(
        self, request: pb.GetPushStepUpRequest, context: Ctx
    ) -> pb.GetPushStepUpResponse:
        return await self.flow.get_push_step_up(
            request, authorization(request.authorization, context), caller(context))

    async def Logout(self, request: pb.LogoutRequest, context: Ctx) -> pb.LogoutResponse:
        return await self.flow.logout(
            authorization(request.authorization, context), caller(context))

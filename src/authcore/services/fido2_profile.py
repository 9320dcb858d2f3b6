"""Fido2ProfileService and Fido2MgmtService: LoginID's profile, devices and
management calls."""

from __future__ import annotations

from typing import TypeAlias

import grpc

from authcore.flows.loginid_mgmt import LoginIdMgmtFlow
from authcore.flows.loginid_profile import EMAIL, SMS, LoginIdProfileFlow
from authcore.services.peer import authorization
from authcore.services.peer import loginid_caller as caller
from authcore.v1 import fido2_mgmt_pb2 as mgmt
from authcore.v1 import fido2_mgmt_pb2_grpc, fido2_profile_pb2_grpc
from authcore.v1 import fido2_profile_pb2 as pb

Ctx: TypeAlias = grpc.aio.ServicerContext


class Fido2ProfileService(fido2_profile_pb2_grpc.Fido2ProfileServiceServicer):
    def __init__(self, flow: LoginIdProfileFlow) -> None:
        self.flow = flow

    async def DeleteProfile(self, request: pb.DeleteProfileRequest, context: Ctx
                            ) -> pb.DeleteProfileResponse:
        request.authorization = authorization(request.authorization, context)
        await self.flow.delete_profile(request, caller(context))
        return pb.DeleteProfileResponse()

    async def UpdateEmail(self, request: pb.UpdateEmailRequest, context: Ctx
                          ) -> pb.UpdateEmailResponse:
        request.authorization = authorization(request.authorization, context)
        await self.flow.update_email(request, caller(context))
        return pb.UpdateEmailResponse()

    async def UpdatePhone(self, request: pb.UpdatePhoneRequest, context: Ctx
                          ) -> pb.UpdatePhoneResponse:
        request.authorization = authorization(request.authorization, context)
        await self.flow.update_phone(request, caller(context))
        return pb.UpdatePhoneResponse()

    async def DeletePhone(self, request: pb.DeletePhoneRequest, context: Ctx
                          ) -> pb.DeletePhoneResponse:
        request.authorization = authorization(request.authorization, context)
        await self.flow.delete_phone(request, caller(context))
        return pb.DeletePhoneResponse()

    async def VerifyEmail(self, request: pb.VerifyEmailRequest, context: Ctx
                          ) -> pb.VerifyEmailResponse:
        await self.flow.verify(channel=EMAIL, auth_code=request.auth_code,
                               username=request.username, app_id=request.app_id,
                               caller=caller(context))
        return pb.VerifyEmailResponse()

    async def VerifyPhone(self, request: pb.VerifyPhoneRequest, context: Ctx
                          ) -> pb.VerifyPhoneResponse:
        await self.flow.verify(channel=SMS, auth_code=request.auth_code,
                               username=request.username, app_id=request.app_id,
                               caller=caller(context))
        return pb.VerifyPhoneResponse()

    async def ListDevices(self, request: pb.ListDevicesRequest, context: Ctx
                          ) -> pb.ListDevicesResponse:
        found = await self.flow.list_devices(authorization(request.authorization, context),
                                             caller(context))
        return pb.ListDevicesResponse(devices=found)

    async def RenameDevice(self, request: pb.RenameDeviceRequest, context: Ctx
                           ) -> pb.RenameDeviceResponse:
        request.authorization = authorization(request.authorization, context)
        await self.flow.rename_device(request, caller(context))
        return pb.RenameDeviceResponse()

    async def DeleteDevice(self, request: pb.DeleteDeviceRequest, context: Ctx
                           ) -> pb.DeleteDeviceResponse:
        request.authorization = authorization(request.authorization, context)
        await self.flow.delete_device(request, caller(context))
        return pb.DeleteDeviceResponse()


class Fido2MgmtService(fido2_mgmt_pb2_grpc.Fido2MgmtServiceServicer):
    def __init__(self, flow: LoginIdMgmtFlow) -> None:
        self.flow = flow

    async def CreateGrant(self, request: mgmt.CreateGrantRequest, context: Ctx
                          ) -> mgmt.CreateGrantResponse:
        return mgmt.CreateGrantResponse(token=await self.flow.create_grant(request,
                                                                           caller(context)))

    async def VerifyToken(self, request: mgmt.VerifyTokenRequest, context: Ctx
                          ) -> mgmt.VerifyTokenResponse:
        await self.flow.verify_token(request, caller(context))
        return mgmt.VerifyTokenResponse()

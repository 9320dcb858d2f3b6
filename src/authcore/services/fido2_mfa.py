"""Fido2MfaService: LoginID's MFA flow (/fido2/v2/mfa)."""

from __future__ import annotations

from typing import TypeAlias

import grpc

from authcore.flows.loginid_common import app_id_from_host
from authcore.flows.loginid_mfa import LoginIdMfaFlow
from authcore.flows.refresh import RefreshFlow
from authcore.services.peer import authorization
from authcore.services.peer import loginid_caller as caller
from authcore.v1 import fido2_mfa_pb2 as mfa
from authcore.v1 import fido2_mfa_pb2_grpc

Ctx: TypeAlias = grpc.aio.ServicerContext


class Fido2MfaService(fido2_mfa_pb2_grpc.Fido2MfaServiceServicer):
    def __init__(self, flow: LoginIdMfaFlow, refresh: RefreshFlow) -> None:
        self.flow = flow
        self.refresh = refresh

    async def MfaBegin(self, request: mfa.MfaBeginRequest, context: Ctx
                       ) -> mfa.MfaBeginResponse:
        return mfa.MfaBeginResponse(next=await self.flow.begin(request, caller(context)))

    async def MfaDiscover(self, request: mfa.MfaDiscoverRequest, context: Ctx
                          ) -> mfa.MfaDiscoverResponse:
        await self.flow.discover(request, caller(context))
        return mfa.MfaDiscoverResponse()

    async def MfaOtpRequest(self, request: mfa.MfaOtpRequestRequest, context: Ctx
                            ) -> mfa.MfaOtpRequestResponse:
        return await self.flow.otp_request(
            request, authorization(request.authorization, context), caller(context))

    async def MfaOtpVerify(self, request: mfa.MfaOtpVerifyRequest, context: Ctx
                           ) -> mfa.MfaOtpVerifyResponse:
        return mfa.MfaOtpVerifyResponse(mfa=await self.flow.otp_verify(
            request, authorization(request.authorization, context), caller(context)))

    async def MfaPasskeyAuth(self, request: mfa.MfaPasskeyAuthRequest, context: Ctx
                             ) -> mfa.MfaPasskeyAuthResponse:
        return mfa.MfaPasskeyAuthResponse(mfa=await self.flow.passkey_auth(
            request, authorization(request.authorization, context), caller(context),
            kind="auth"))

    async def MfaPasskeyTx(self, request: mfa.MfaPasskeyTxRequest, context: Ctx
                           ) -> mfa.MfaPasskeyTxResponse:
        return mfa.MfaPasskeyTxResponse(mfa=await self.flow.passkey_auth(
            request, authorization(request.authorization, context), caller(context),
            kind="tx"))

    async def MfaPasskeyReg(self, request: mfa.MfaPasskeyRegRequest, context: Ctx
                            ) -> mfa.MfaPasskeyRegResponse:
        return mfa.MfaPasskeyRegResponse(mfa=await self.flow.passkey_reg(
            request, authorization(request.authorization, context), caller(context)))

    async def MfaPayloadUpdate(self, request: mfa.MfaPayloadUpdateRequest, context: Ctx
                               ) -> mfa.MfaPayloadUpdateResponse:
        return mfa.MfaPayloadUpdateResponse(next=await self.flow.payload_update(
            request, authorization(request.authorization, context), caller(context)))

    async def MfaThirdPartyAuthVerify(self, request: mfa.MfaThirdPartyAuthVerifyRequest,
                                      context: Ctx) -> mfa.MfaThirdPartyAuthVerifyResponse:
        return mfa.MfaThirdPartyAuthVerifyResponse(mfa=await self.flow.third_party_verify(
            request, authorization(request.authorization, context), caller(context)))

    async def MfaTokenRefresh(self, request: mfa.MfaTokenRefreshRequest, context: Ctx
                              ) -> mfa.MfaTokenRefreshResponse:
        peer = caller(context)
        done = await self.refresh.refresh(request.refresh_token,
                                          application_id=app_id_from_host(peer.host),
                                          caller=peer)
        return mfa.MfaTokenRefreshResponse(access_token=done.access_token,
                                           id_token=done.id_token,
                                           refresh_token=done.refresh_token)

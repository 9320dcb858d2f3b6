"""AuthenticationService: the Entrust IDaaS Authentication API."""

from __future__ import annotations

import grpc

from authcore.flows.authentication import AuthenticationFlow
from authcore.services.peer import authorization, caller
from authcore.v1 import authentication_pb2 as authn
from authcore.v1 import authentication_pb2_grpc


class AuthenticationService(authentication_pb2_grpc.AuthenticationServiceServicer):
    def __init__(self, flow: AuthenticationFlow) -> None:
        self.flow = flow

    async def QueryUserAuthenticators(
        self, request: authn.QueryUserAuthenticatorsRequest, context: grpc.aio.ServicerContext
    ) -> authn.QueryUserAuthenticatorsResponse:
        return await self.flow.query(request, caller(context))

    async def RequestUserChallenge(
        self, request: authn.RequestUserChallengeRequest, context: grpc.aio.ServicerContext
    ) -> authn.RequestUserChallengeResponse:
        response = await self.flow.challenge(request, caller(context))
        return authn.RequestUserChallengeResponse(authenticated=response)

    async def AuthenticateUserChallenge(
        self, request: authn.AuthenticateUserChallengeRequest, context: grpc.aio.ServicerContext
    ) -> authn.AuthenticateUserChallengeResponse:
        response = await self.flow.complete(
            request, authorization(request.authorization, context), caller(context))
        return authn.AuthenticateUserChallengeResponse(authenticated=response)

    async def RequestPasskeyChallenge(
        self, request: authn.RequestPasskeyChallengeRequest, context: grpc.aio.ServicerContext
    ) -> authn.RequestPasskeyChallengeResponse:
        return await self.flow.passkey_challenge(request, caller(context))

    async def Logout(
        self, request: authn.LogoutRequest, context: grpc.aio.ServicerContext
    ) -> authn.LogoutResponse:
        await self.flow.logout(authorization(request.authorization, context), caller(context))
        return authn.LogoutResponse()

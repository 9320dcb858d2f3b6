"""Fido2OidcService (LoginID's OIDC login) and OidcProviderService (its
administration)."""

from __future__ import annotations

from typing import TypeAlias

import grpc

from authcore.flows.oidc_login import OidcLoginFlow
from authcore.flows.oidc_providers import OidcProviderAdmin
from authcore.services.peer import loginid_caller as caller
from authcore.v1 import fido2_oidc_pb2 as pb
from authcore.v1 import fido2_oidc_pb2_grpc, oidc_providers_pb2_grpc
from authcore.v1 import oidc_providers_pb2 as admin_pb

Ctx: TypeAlias = grpc.aio.ServicerContext


class Fido2OidcService(fido2_oidc_pb2_grpc.Fido2OidcServiceServicer):
    def __init__(self, flow: OidcLoginFlow) -> None:
        self.flow = flow

    async def StartOidcLogin(self, request: pb.StartOidcLoginRequest, context: Ctx
                             ) -> pb.StartOidcLoginResponse:
        return await self.flow.start(request, caller(context))

    async def FinishOidcLogin(self, request: pb.FinishOidcLoginRequest, context: Ctx
                              ) -> pb.FinishOidcLoginResponse:
        return await self.flow.finish(request, caller(context))


class OidcProviderService(oidc_providers_pb2_grpc.OidcProviderServiceServicer):
    def __init__(self, admin: OidcProviderAdmin) -> None:
        self.admin = admin

    async def CreateOidcProvider(self, request: admin_pb.CreateOidcProviderRequest,
                                 context: Ctx) -> admin_pb.CreateOidcProviderResponse:
        return await self.admin.create(request)

    async def ListOidcProviders(self, request: admin_pb.ListOidcProvidersRequest,
                                context: Ctx) -> admin_pb.ListOidcProvidersResponse:
        return await self.admin.list(request)

    async def DeleteOidcProvider(self, request: admin_pb.DeleteOidcProviderRequest,
                                 context: Ctx) -> admin_pb.DeleteOidcProviderResponse:
        return await self.admin.delete(request)

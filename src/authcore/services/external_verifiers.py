"""ExternalVerifierService: an application's EXTERNAL verifier (admin API)."""

from __future__ import annotations

from typing import TypeAlias

import grpc

from authcore.flows.external_verifiers import ExternalVerifierAdmin
from authcore.v1 import external_verifiers_pb2 as pb
from authcore.v1 import external_verifiers_pb2_grpc

Ctx: TypeAlias = grpc.aio.ServicerContext


class ExternalVerifierService(external_verifiers_pb2_grpc.ExternalVerifierServiceServicer):
    def __init__(self, admin: ExternalVerifierAdmin) -> None:
        self.admin = admin

    async def PutExternalVerifier(self, request: pb.PutExternalVerifierRequest, context: Ctx
                                  ) -> pb.PutExternalVerifierResponse:
        return await self.admin.put(request)

    async def GetExternalVerifier(self, request: pb.GetExternalVerifierRequest, context: Ctx
                                  ) -> pb.GetExternalVerifierResponse:
        return await self.admin.get(request)

    async def DeleteExternalVerifier(self, request: pb.DeleteExternalVerifierRequest,
                                     context: Ctx) -> pb.DeleteExternalVerifierResponse:
        return await self.admin.delete(request)

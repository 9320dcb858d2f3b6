"""MagicLinkService: the answer to an emailed Magic Link."""

from __future__ import annotations

from typing import TypeAlias

import grpc

from authcore.flows.magic_links import MagicLinkFlow
from authcore.services.peer import caller
from authcore.v1 import magic_links_pb2 as pb
from authcore.v1 import magic_links_pb2_grpc

Ctx: TypeAlias = grpc.aio.ServicerContext


class MagicLinkService(magic_links_pb2_grpc.MagicLinkServiceServicer):
    def __init__(self, flow: MagicLinkFlow) -> None:
        self.flow = flow

    async def RespondToMagicLink(
        self, request: pb.RespondToMagicLinkRequest, context: Ctx
    ) -> pb.RespondToMagicLinkResponse:
        return await self.flow.respond(request, caller(context))

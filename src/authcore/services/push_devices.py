"""PushDeviceService: registration of push devices and their answers."""

from __future__ import annotations

from typing import TypeAlias

import grpc

from authcore.flows.push_devices import PushDeviceFlow
from authcore.services.peer import caller
from authcore.v1 import push_devices_pb2 as pb
from authcore.v1 import push_devices_pb2_grpc

Ctx: TypeAlias = grpc.aio.ServicerContext


class PushDeviceService(push_devices_pb2_grpc.PushDeviceServiceServicer):
    def __init__(self, flow: PushDeviceFlow) -> None:
        self.flow = flow

    async def CreatePushDevice(
        self, request: pb.CreatePushDeviceRequest, context: Ctx
    ) -> pb.CreatePushDeviceResponse:
        return pb.CreatePushDeviceResponse(device=await self.flow.create_device(request))

    async def ListPushDevices(
        self, request: pb.ListPushDevicesRequest, context: Ctx
    ) -> pb.ListPushDevicesResponse:
        return await self.flow.list_devices(request)

    async def DeletePushDevice(
        self, request: pb.DeletePushDeviceRequest, context: Ctx
    ) -> pb.DeletePushDeviceResponse:
        await self.flow.delete_device(request)
        return pb.DeletePushDeviceResponse()

    async def CreatePushActivation(
        self, request: pb.CreatePushActivationRequest, context: Ctx
    ) -> pb.CreatePushActivationResponse:
        return await self.flow.create_activation(request)

    async def ActivatePushDevice(
        self, request: pb.ActivatePushDeviceRequest, context: Ctx
    ) -> pb.ActivatePushDeviceResponse:
        return pb.ActivatePushDeviceResponse(
            device=await self.flow.activate(request, caller(context)))

    async def RespondToPush(
        self, request: pb.RespondToPushRequest, context: Ctx
    ) -> pb.RespondToPushResponse:
        await self.flow.respond(request, caller(context))
        return pb.RespondToPushResponse()

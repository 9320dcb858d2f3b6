"""ScimService: SCIM 2.0 over gRPC and, through the REST bridge, /scim/v2.

Thin: typed messages in, SCIM documents (dicts) through authcore.scim, typed
messages out. The admin key and its "scim" scope are checked by the
AdminAuthInterceptor from the method options.
"""

from __future__ import annotations

from typing import Any, TypeAlias, TypeVar

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message

from authcore.errors import NotFound, Unimplemented
from authcore.flows.context import Core
from authcore.scim import schema
from authcore.scim.common import Query, Shape, list_response
from authcore.scim.groups import ScimGroups
from authcore.scim.users import ScimUsers
from authcore.scim.v2 import scim_pb2 as pb
from authcore.scim.v2 import scim_pb2_grpc

Ctx: TypeAlias = grpc.aio.ServicerContext
M = TypeVar("M", bound=Message)


def _doc(msg: Message) -> dict[str, Any]:
    return json_format.MessageToDict(msg)


def _msg(doc: dict[str, Any], cls: type[M]) -> M:
    return json_format.ParseDict(doc, cls(), ignore_unknown_fields=True)


def _query(req: Any) -> Query:
    return Query(
        filter=req.filter,
        start_index=req.start_index if req.HasField("start_index") else None,
        count=req.count if req.HasField("count") else None,
        sort_by=req.sort_by, sort_order=req.sort_order,
        shape=Shape.of(req.attributes, req.excluded_attributes),
    )


class ScimService(scim_pb2_grpc.ScimServiceServicer):
    def __init__(self, core: Core) -> None:
        self.core = core
        self.users = ScimUsers(core)
        self.groups = ScimGroups(core)

    # --------------------------------------------------------------- users

    async def ListUsers(self, request: pb.ListUsersRequest, context: Ctx
                        ) -> pb.ListUsersResponse:
        return _msg(await self.users.list(_query(request)), pb.ListUsersResponse)

    async def SearchUsers(self, request: pb.SearchUsersRequest, context: Ctx
                          ) -> pb.ListUsersResponse:
        return _msg(await self.users.list(_query(request)), pb.ListUsersResponse)

    async def CreateUser(self, request: pb.CreateUserRequest, context: Ctx) -> pb.User:
        shape = Shape.of(request.attributes, request.excluded_attributes)
        return _msg(await self.users.create(_doc(request.user), shape=shape), pb.User)

    async def GetUser(self, request: pb.GetUserRequest, context: Ctx) -> pb.User:
        shape = Shape.of(request.attributes, request.excluded_attributes)
        return _msg(await self.users.get(request.id, shape=shape,
                                         if_none_match=request.if_none_match), pb.User)

    async def ReplaceUser(self, request: pb.ReplaceUserRequest, context: Ctx) -> pb.User:
        shape = Shape.of(request.attributes, request.excluded_attributes)
        return _msg(await self.users.replace(request.id, _doc(request.user), shape=shape,
                                             if_match=request.if_match), pb.User)

    async def PatchUser(self, request: pb.PatchUserRequest, context: Ctx) -> pb.User:
        shape = Shape.of(request.attributes, request.excluded_attributes)
        return _msg(await self.users.patch(request.id, _doc(request.patch_op), shape=shape,
                                           if_match=request.if_match), pb.User)

    async def DeleteUser(self, request: pb.DeleteUserRequest, context: Ctx
                         ) -> pb.DeleteUserResponse:
        await self.users.delete(request.id, if_match=request.if_match)
        return pb.DeleteUserResponse()

    # -------------------------------------------------------------- groups

    async def ListGroups(self, request: pb.ListGroupsRequest, context: Ctx
                         ) -> pb.ListGroupsResponse:
        return _msg(await self.groups.list(_query(request)), pb.ListGroupsResponse)

    async def SearchGroups(self, request: pb.SearchGroupsRequest, context: Ctx
                           ) -> pb.ListGroupsResponse:
        return _msg(await self.groups.list(_query(request)), pb.ListGroupsResponse)

    async def CreateGroup(self, request: pb.CreateGroupRequest, context: Ctx) -> pb.Group:
        shape = Shape.of(request.attributes, request.excluded_attributes)
        return _msg(await self.groups.create(_doc(request.group), shape=shape), pb.Group)

    async def GetGroup(self, request: pb.GetGroupRequest, context: Ctx) -> pb.Group:
        shape = Shape.of(request.attributes, request.excluded_attributes)
        return _msg(await self.groups.get(request.id, shape=shape,
                                          if_none_match=request.if_none_match), pb.Group)

    async def ReplaceGroup(self, request: pb.ReplaceGroupRequest, context: Ctx) -> pb.Group:
        shape = Shape.of(request.attributes, request.excluded_attributes)
        return _msg(await self.groups.replace(request.id, _doc(request.group), shape=shape,
                                              if_match=request.if_match), pb.Group)

    async def PatchGroup(self, request: pb.PatchGroupRequest, context: Ctx) -> pb.Group:
        shape = Shape.of(request.attributes, request.excluded_attributes)
        return _msg(await self.groups.patch(request.id, _doc(request.patch_op), shape=shape,
                                            if_match=request.if_match), pb.Group)

    async def DeleteGroup(self, request: pb.DeleteGroupRequest, context: Ctx
                          ) -> pb.DeleteGroupResponse:
        await self.groups.delete(request.id, if_match=request.if_match)
        return pb.DeleteGroupResponse()

    async def SearchResources(self, request: pb.SearchResourcesRequest, context: Ctx
                              ) -> pb.SearchResourcesResponse:
        raise Unimplemented("searching several resource types at once is not supported; "
                            "use /Users/.search or /Groups/.search",
                            reason="root_search_unsupported")

    # ----------------------------------------------------------- discovery

    @property
    def _base_url(self) -> str:
        return self.core.settings.base_url

    async def GetServiceProviderConfig(self, request: pb.GetServiceProviderConfigRequest,
                                       context: Ctx) -> pb.ServiceProviderConfig:
        return _msg(schema.service_provider_config(self._base_url), pb.ServiceProviderConfig)

    async def ListResourceTypes(self, request: pb.ListResourceTypesRequest, context: Ctx
                                ) -> pb.ListResourceTypesResponse:
        types = schema.resource_types(self._base_url)
        listing = list_response(types, len(types), Query())
        return _msg(listing, pb.ListResourceTypesResponse)

    async def GetResourceType(self, request: pb.GetResourceTypeRequest, context: Ctx
                              ) -> pb.ResourceType:
        for item in schema.resource_types(self._base_url):
            if item["id"] == request.id:
                return _msg(item, pb.ResourceType)
        raise NotFound(f"resource type {request.id[:64]!r} not found", reason="not_found")

    async def ListSchemas(self, request: pb.ListSchemasRequest, context: Ctx
                          ) -> pb.ListSchemasResponse:
        schemas = schema.schemas(self._base_url)
        listing = list_response(schemas, len(schemas), Query())
        return _msg(listing, pb.ListSchemasResponse)

    async def GetSchema(self, request: pb.GetSchemaRequest, context: Ctx) -> pb.Schema:
        for item in schema.schemas(self._base_url):
            if item["id"] == request.id:
                return _msg(item, pb.Schema)
        raise NotFound(f"schema {request.id[:100]!r} not found", reason="not_found")

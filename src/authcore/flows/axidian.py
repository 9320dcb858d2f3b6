"""Axidian Access logon v5 (skeleton; being implemented)."""

from __future__ import annotations

from authcore.axidian.v5 import logon_pb2 as pb
from authcore.errors import Unimplemented
from authcore.flows.authentication import Caller
from authcore.flows.context import Core
from authcore.flows.kerberos import windows_logon


class AxidianFlow:
    def __init__(self, core: Core) -> None:
        self.core = core

    async def is_available(self, req: pb.IsAvailableRequest, caller: Caller
                           ) -> pb.IsAvailableResponse:
        raise Unimplemented("not yet")

    async def get_available_methods(self, req: pb.GetAvailableMethodsRequest, caller: Caller
                                    ) -> pb.GetAvailableMethodsResponse:
        raise Unimplemented("not yet")

    async def authenticate(self, req: pb.AuthenticateRequest, caller: Caller
                           ) -> pb.AuthenticateResponse:
        raise Unimplemented("not yet")

    async def authenticate_by_windows_token(
        self, req: pb.AuthenticateByWindowsTokenRequest, authorization: str, caller: Caller
    ) -> pb.AuthenticateByWindowsTokenResponse:
        # SPNEGO lives in flows/kerberos.py (gssapi, keytab, realm mapping).
        return await windows_logon(self.core, req, authorization, caller)

    async def open_verify_session(self, req: pb.OpenVerifySessionRequest, caller: Caller
                                  ) -> pb.OpenVerifySessionResponse:
        raise Unimplemented("not yet")

    async def prepare_template_data(self, req: pb.PrepareTemplateDataRequest,
                                    caller: Caller) -> None:
        raise Unimplemented("not yet")

    async def create_template(self, req: pb.CreateTemplateRequest, caller: Caller
                              ) -> pb.CreateTemplateResponse:
        raise Unimplemented("not yet")

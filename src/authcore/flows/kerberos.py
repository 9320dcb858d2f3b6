"""SPNEGO/Kerberos logon for Axidian's authenticateByWindowsToken (skeleton)."""

from __future__ import annotations

from authcore.axidian.v5 import logon_pb2 as pb
from authcore.errors import Unimplemented
from authcore.flows.authentication import Caller
from authcore.flows.context import Core


async def windows_logon(core: Core, req: pb.AuthenticateByWindowsTokenRequest,
                        authorization: str, caller: Caller
                        ) -> pb.AuthenticateByWindowsTokenResponse:
    raise Unimplemented("not yet")

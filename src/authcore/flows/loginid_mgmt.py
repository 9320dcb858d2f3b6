"""LoginID's management calls (/fido2/v2/mgmt), made by the application's
backend with an admin key holding the `loginid` scope (checked by the
interceptor before these run): grant tokens for its frontend, and the check
of a user's JWT.
"""

from __future__ import annotations

from authcore.errors import InvalidArgument, Unauthenticated
from authcore.flows import audit
from authcore.flows import grants as g
from authcore.flows.authentication import Caller
from authcore.flows.directory import find_user, get_application, valid_username
from authcore.flows.loginid import LoginIdFlow
from authcore.flows.loginid_common import request_app_id, required_field
from authcore.tokens.sessions import verify_session
from authcore.v1 import fido2_mgmt_pb2 as pb

# Far above any JWT this server signs; longer is garbage, not worth parsing.
MAX_JWT_CHARS = 8192


class LoginIdMgmtFlow:
    def __init__(self, loginid: LoginIdFlow) -> None:
        self.core = loginid.core

    async def create_grant(self, req: pb.CreateGrantRequest, caller: Caller) -> str:
        app_id = request_app_id(req.app_id, caller, "appId")
        username = valid_username(required_field(req.username.strip(), "username"), "username")
        grants = g.valid_grants(req.grants)
        now = self.core.clock()
        async with self.core.read() as db:
            app = await get_application(db, app_id)
            user = await find_user(db, username)
        if user is not None and not user.active and user.pending_since is None:
            # A disabled account gets nothing; a pending sign-up may be
            # replaced by a vouched registration (reg:write).
            user = None
        async with self.core.write() as db:
            token, _ = await g.mint_grant_token(
                self.core, db, application_id=app.id,
                user_pk=user.pk if user is not None else None, username=username,
                grants=grants, now=now)
            audit.record(db, event="grant_issue", outcome="success", now=now,
                         application_id=app.id, user_id=username[:255],
                         reason=",".join(sorted(grants))[:64], client_ip=caller.client_ip)
        return token

    async def verify_token(self, req: pb.VerifyTokenRequest, caller: Caller) -> None:
        app_id = request_app_id(req.app_id, caller, "appId")
        token = req.jwt_access.strip()
        if not token:
            raise InvalidArgument("jwtAccess is required.", reason="missing_field",
                                  field_violations=[("jwtAccess", "is required")])
        if len(token) > MAX_JWT_CHARS:
            raise Unauthenticated("The token is invalid.", reason="invalid_token")
        now = self.core.clock()
        async with self.core.read() as db:
            app = await get_application(db, app_id)
            claims, _ = await verify_session(db, self.core.signer, token, now=now)
        if claims.get("aud") != app.id:
            raise Unauthenticated("The token is not for this application.",
                                  reason="invalid_token")

"""Administration of an application's external verifier (ExternalVerifierService)."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import delete

from authcore.errors import InvalidArgument, NotFound
from authcore.flows import audit
from authcore.flows.context import Core
from authcore.flows.directory import get_application
from authcore.flows.factors.external import secret_aad
from authcore.flows.oidc import issuer_violation
from authcore.store.models import ExternalVerifier
from authcore.v1 import external_verifiers_pb2 as pb

DEFAULT_TIMEOUT_MS = 5000
MIN_TIMEOUT_MS, MAX_TIMEOUT_MS = 100, 30000
MIN_SECRET, MAX_SECRET = 16, 512


def _invalid(field: str, problem: str) -> InvalidArgument:
    return InvalidArgument(f"{field} {problem}.", reason="invalid_field",
                           field_violations=[(field, problem)])


def verifier_message(row: ExternalVerifier) -> pb.ExternalVerifier:
    updated = Timestamp()
    updated.FromNanoseconds(int(row.updated_at * 1e9))
    return pb.ExternalVerifier(application_id=row.application_id, url=row.url,
                               timeout_ms=row.timeout_ms, updated_at=updated)


def _not_found() -> NotFound:
    return NotFound("The application has no external verifier.",
                    reason="external_verifier_not_found")


class ExternalVerifierAdmin:
    def __init__(self, core: Core) -> None:
        self.core = core

    async def put(self, req: pb.PutExternalVerifierRequest) -> pb.PutExternalVerifierResponse:
        url = req.url.strip()
        # The issuer rules fit: https, or http on a loopback host (tests).
        problem = issuer_violation(url) if url else "is required"
        if problem or len(url) > 2048:
            raise _invalid("url", problem or "is too long")
        if req.secret and not MIN_SECRET <= len(req.secret) <= MAX_SECRET:
            raise _invalid("secret", f"must be {MIN_SECRET}-{MAX_SECRET} characters")
        timeout_ms = req.timeout_ms if req.HasField("timeout_ms") else DEFAULT_TIMEOUT_MS
        if not MIN_TIMEOUT_MS <= timeout_ms <= MAX_TIMEOUT_MS:
            raise _invalid("timeoutMs", f"must be {MIN_TIMEOUT_MS}-{MAX_TIMEOUT_MS}")
        now = self.core.clock()
        async with self.core.write() as db:
            app = await get_application(db, req.application_id)
            row = await db.get(ExternalVerifier, app.id)
            if row is None and not req.secret:
                raise _invalid("secret", "is required for a new verifier")
            # Sealed under the application's id: a secret copied to another
            # application's row does not open there. Never logged or returned.
            sealed = (self.core.sealer.seal(req.secret.encode(), aad=secret_aad(app.id))
                      if req.secret else None)
            if row is None:
                assert sealed is not None
                row = ExternalVerifier(application_id=app.id, url=url, secret=sealed,
                                       timeout_ms=timeout_ms, created_at=now, updated_at=now)
                db.add(row)
            else:
                row.url, row.timeout_ms, row.updated_at = url, timeout_ms, now
                if sealed is not None:
                    row.secret = sealed
            audit.record(db, event="external_verifier_put", outcome="success", now=now,
                         application_id=app.id)
            message = verifier_message(row)
        return pb.PutExternalVerifierResponse(verifier=message)

    async def get(self, req: pb.GetExternalVerifierRequest) -> pb.GetExternalVerifierResponse:
        async with self.core.read() as db:
            app = await get_application(db, req.application_id)
            row = await db.get(ExternalVerifier, app.id)
            if row is None:
                raise _not_found()
            return pb.GetExternalVerifierResponse(verifier=verifier_message(row))

    async def delete(self, req: pb.DeleteExternalVerifierRequest
                     ) -> pb.DeleteExternalVerifierResponse:
        now = self.core.clock()
        async with self.core.write() as db:
            app = await get_application(db, req.application_id)
            result = await db.execute(delete(ExternalVerifier).where(
                ExternalVerifier.application_id == app.id))
            if not getattr(result, "rowcount", 0):
                raise _not_found()
            audit.record(db, event="external_verifier_delete", outcome="success", now=now,
                         application_id=app.id)
        return pb.DeleteExternalVerifierResponse()

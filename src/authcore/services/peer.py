"""Transport facts a servicer needs from its context."""

from __future__ import annotations

import grpc

from authcore.flows.authentication import Caller
from authcore.interceptors import metadata_value


def client_ip(context: grpc.aio.ServicerContext) -> str:
    """The peer address without port: "ipv4:1.2.3.4:5" → "1.2.3.4"."""
    peer = context.peer() or ""
    kind, _, rest = peer.partition(":")
    if kind == "ipv6":
        return rest.rsplit(":", 1)[0].strip("[]")
    if kind == "ipv4":
        return rest.rsplit(":", 1)[0]
    return peer or "unknown"


def caller(context: grpc.aio.ServicerContext) -> Caller:
    return Caller(client_ip=client_ip(context))


# The REST bridge's copy of the host the client asked for
# (rest_bridge/endpoint.py); gRPC clients may send it too.
HOST_METADATA = "x-forwarded-host"


def loginid_caller(context: grpc.aio.ServicerContext) -> Caller:
    """`caller`, with the requested host: LoginID's web SDK names its
    application only by the base URL it calls (`https://<appId>.<domain>`)."""
    return Caller(client_ip=client_ip(context), host=metadata_value(context, HOST_METADATA))


def authorization(field_value: str, context: grpc.aio.ServicerContext) -> str:
    """The request field wins (REST fills it from the header); gRPC clients may
    send `authorization` metadata instead."""
    return field_value or metadata_value(context, "authorization")

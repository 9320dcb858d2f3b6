"""`authcore serve | migrate | outbox | admin create-key`."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from authcore import logs, metrics_dir
from authcore.config import Settings
from authcore.state_files import make_data_dir, restrict_new_files, warn_if_too_open


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    overrides = {k: getattr(args, k) for k in ("grpc_addr", "http_addr")
                 if getattr(args, k, None)}
    if getattr(args, "workers", None) is not None:
        overrides["workers"] = args.workers
    return dataclasses.replace(settings, **overrides)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="authcore", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the gRPC server and the REST bridge")
    serve.add_argument("--grpc-addr", help="host:port for gRPC (AUTHCORE_GRPC_ADDR)")
    serve.add_argument("--http-addr", help="host:port for REST (AUTHCORE_HTTP_ADDR)")
    serve.add_argument("--workers", type=int, metavar="N",
                       help="processes sharing both ports (AUTHCORE_WORKERS; "
                            "default 0: one per core)")
    # Internal: how the supervisor (authcore.workers) starts its children.
    serve.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    serve.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    serve.add_argument("--ready-fd", type=int, help=argparse.SUPPRESS)
    serve.add_argument("--demo-application-id", help=argparse.SUPPRESS)
    sub.add_parser("migrate", help="apply database migrations")
    outbox = sub.add_parser("outbox", help="list queued and delivered messages (no text)")
    outbox.add_argument("--status", choices=("pending", "sent", "failed", "expired", "held"),
                        help="only messages in this status")
    outbox.add_argument("--user", metavar="USER_ID", help="only this user's messages")
    admin = sub.add_parser("admin", help="administration")
    admin_sub = admin.add_subparsers(dest="admin_command", required=True)
    create_key = admin_sub.add_parser(
        "create-key", help="create an admin key and print it (shown once)")
    create_key.add_argument("--name", required=True, help="who the key is for, e.g. okta")
    create_key.add_argument("--scope", action="append", required=True,
                            help='a scope the key holds: "scim", "admin", "metrics" or "*"; '
                                 'repeatable')
    args = parser.parse_args(argv)
    restrict_new_files()

    settings = _settings(args)
    serving = args.command == "serve"
    child = serving and (args.prepare or args.worker)
    supervisor = serving and not child and settings.effective_workers > 1
    # Every process of a `serve` (supervisor, --prepare child, workers) runs
    # this, so all of them write the same format (authcore/logs.py).
    logs.setup(level=settings.log_level, fmt=settings.log_format,
               with_pid=child or supervisor)
    if not child:
        warn_if_too_open(settings.data_dir)
    metrics_files = None
    if serving and not child:
        # Before anything imports prometheus_client; the workers inherit it.
        metrics_files = metrics_dir.prepare(settings.data_dir)
    if supervisor:
        # Migrations and bootstrap run once, in its `--prepare` child.
        from authcore.workers import supervise

        try:
            return asyncio.run(supervise(settings))
        finally:
            metrics_dir.remove(metrics_files)
    if serving and args.worker:
        # The supervisor's `--prepare` child has migrated already.
        if args.ready_fd is None:
            parser.error("--worker needs --ready-fd")
        from authcore.server import WorkerRole
        from authcore.server import serve as run_worker

        asyncio.run(run_worker(settings, worker=WorkerRole(
            ready_fd=args.ready_fd, demo_application_id=args.demo_application_id)))
        _exit_now()
    if settings.is_sqlite:
        make_data_dir(settings.data_dir)
    # Migrations run before the event loop starts: Alembic's async env runs
    # its own loop. (Imported here: the supervisor stays small without it.)
    from authcore.store.db import migrate

    migrate(settings.effective_database_url)
    if args.command == "migrate":
        print("database is at the latest schema")
        return 0
    if args.command == "outbox":
        from authcore.delivery.listing import print_outbox

        return asyncio.run(print_outbox(settings, status=args.status, user_id=args.user))
    if args.command == "admin":
        from authcore.bootstrap import create_admin_key

        key = asyncio.run(create_admin_key(settings, name=args.name, scopes=args.scope))
        print(key)
        return 0
    if args.prepare:
        from authcore.workers import prepare

        # One JSON line for the supervisor (stdout is its pipe).
        print(json.dumps(asyncio.run(prepare(settings))), flush=True)
        return 0
    from authcore.server import serve as run

    try:
        asyncio.run(run(settings))
    finally:
        metrics_dir.remove(metrics_files)
    _exit_now()


def _exit_now() -> NoReturn:
    """After a clean stop, leave without the interpreter's teardown: freeing
    every module takes about a second (several on a busy host), which would
    count against the shutdown grace period. Everything that needs closing
    (listeners, database pool, Redis) is closed by then."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    raise SystemExit(main())

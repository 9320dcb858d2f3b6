"""`authcore serve | migrate | admin create-key`."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
from collections.abc import Sequence

from authcore.config import Settings
from authcore.store.db import migrate


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    overrides = {k: getattr(args, k) for k in ("grpc_addr", "http_addr")
                 if getattr(args, k, None)}
    return dataclasses.replace(settings, **overrides)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="authcore", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the gRPC server and the REST bridge")
    serve.add_argument("--grpc-addr", help="host:port for gRPC (AUTHCORE_GRPC_ADDR)")
    serve.add_argument("--http-addr", help="host:port for REST (AUTHCORE_HTTP_ADDR)")
    sub.add_parser("migrate", help="apply database migrations")
    admin = sub.add_parser("admin", help="administration")
    admin_sub = admin.add_subparsers(dest="admin_command", required=True)
    create_key = admin_sub.add_parser(
        "create-key", help="create an admin key and print it (shown once)")
    create_key.add_argument("--name", required=True, help="who the key is for, e.g. okta")
    create_key.add_argument("--scope", action="append", required=True,
                            help='a scope the key holds: "scim", "admin" or "*"; repeatable')
    args = parser.parse_args(argv)

    settings = _settings(args)
    logging.basicConfig(level=settings.log_level,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    # Migrations run before the event loop starts: Alembic's async env runs
    # its own loop.
    migrate(settings.effective_database_url)
    if args.command == "migrate":
        print("database is at the latest schema")
        return 0
    if args.command == "admin":
        from authcore.bootstrap import create_admin_key

        key = asyncio.run(create_admin_key(settings, name=args.name, scopes=args.scope))
        print(key)
        return 0
    from authcore.server import serve as run

    asyncio.run(run(settings))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""A bare FastAPI echo server: the REST baseline of run_scale_bench.py.

`POST /echo` returns the request body as it came. It runs under uvicorn with
the settings authcore's REST bridge uses (h11, asyncio loop, no access log,
no lifespan, no server header), so against authcore's bridge only the work
behind the route differs: the bridge's routing, JSON <-> protobuf codec,
in-process interceptor chain and the flow itself.

    python bench/fastapi_echo.py --port 8099
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Iterator, Sequence

import uvicorn
from fastapi import FastAPI, Request, Response

PATH = "/echo"


def build_app() -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.post(PATH)
    async def echo(request: Request) -> Response:
        return Response(await request.body(), media_type="application/json")

    return app


class _Server(uvicorn.Server):
    # As in authcore.server: the process owns the signals.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(host: str, port: int) -> None:
    server = _Server(uvicorn.Config(build_app(), host=host, port=port, log_config=None,
                                    access_log=False, lifespan="off", server_header=False))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task
            raise SystemExit(f"cannot bind {host}:{port}")
        await asyncio.sleep(0.02)
    print(f"fastapi echo listening: {host}:{port} POST {PATH}", file=sys.stdout, flush=True)
    await stop.wait()
    server.should_exit = True
    await task


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--port", type=int, required=True, help="port")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.host, args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

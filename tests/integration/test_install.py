"""What `pip install .` makes, used from outside the checkout: the wheel
carries the generated protobuf packages, the descriptor set, the migrations,
the templates and the data files; gssapi is only the `kerberos` extra; and
`authcore serve` from a new venv holding only that wheel starts, answers
/healthz, /readyz and gRPC health, and runs a password logon, with gssapi
not importable.

Offline by design: the new venv reaches the dependencies through a .pth
line to this venv's site-packages instead of downloading them from PyPI
(the one thing not exercised here is pip's resolution of the dependency
ranges, which `make install` does on every fresh machine). The wheel is
built without build isolation for the same reason.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import textwrap
import time
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from authcore_testkit import no_gssapi
from authcore_testkit.server import ADMIN_KEY, free_port

ROOT = Path(__file__).resolve().parents[2]
PROJECT_FILES = ["pyproject.toml", "setup.py", "README.md"]
PROJECT_DIRS = ["src", "generated"]
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A copy, so the build's build/ and egg-info never touch the checkout.
    tree = tmp_path_factory.mktemp("tree")
    for name in PROJECT_FILES:
        shutil.copy2(ROOT / name, tree / name)
    for name in PROJECT_DIRS:
        shutil.copytree(ROOT / name, tree / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "-w", str(out), str(tree)],
        check=True, timeout=300, capture_output=True)
    (built,) = out.glob("authcore-*.whl")
    return built


def test_the_wheel_carries_everything_the_server_loads(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "authcore/cli.py",
        "authcore/authcore.binpb",
        "authcore/v1/authentication_pb2.py",
        "authcore/v1/management_pb2.py",
        "authcore/scim/v2/scim_pb2.py",
        "authcore/axidian/v5/logon_pb2.py",
        "authcore/consumer/v1/consumer_pb2.py",
        "authcore/store/migrations/env.py",
        "authcore/store/migrations/versions/0007_delivery_and_request_ids.py",
        "authcore/delivery/templates/otp.html",
        "authcore/delivery/templates/magic_link.txt",
        "rest_bridge/app.py",
    ):
        assert expected in names, expected
    assert any(n.startswith("authcore/data/") and n.endswith(".json") for n in names)
    assert not any(n.startswith(("tests/", "authcore_testkit/")) for n in names)


def test_gssapi_is_only_the_kerberos_extra(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as whl:
        (metadata,) = [n for n in whl.namelist() if n.endswith(".dist-info/METADATA")]
        requires = [line for line in whl.read(metadata).decode().splitlines()
                    if line.startswith("Requires-Dist:")]
    gssapi = [r for r in requires if "gssapi" in r]
    assert gssapi and all('extra == "kerberos"' in r for r in gssapi), gssapi
    assert any(r.startswith("Requires-Dist: aiosmtplib") for r in requires), requires


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv with the wheel and nothing of the checkout; its bin dir."""
    home = tmp_path_factory.mktemp("venv")
    venv.create(home, with_pip=False)
    python = home / "bin" / "python"
    purelib = Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True, timeout=60).stdout.strip())
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
         "--no-deps", "--no-index", str(wheel)],
        check=True, timeout=300, capture_output=True)
    # After the venv's own site-packages (where the wheel went): the
    # dependencies, from this venv. A plain path line, so this venv's
    # editable-install hook (a .pth of its own) is not run there.
    (purelib / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    no_gssapi.write(purelib)
    return home / "bin"


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AUTHCORE_", "PYTHON", "VIRTUAL_ENV"))}
    return {**env, **extra}


def test_the_installed_package_is_the_wheel_not_the_checkout(installed: Path,
                                                              tmp_path: Path) -> None:
    probe = subprocess.run(
        [str(installed / "python"), "-c", textwrap.dedent("""
            import authcore, authcore.v1.authentication_pb2 as pb
            print(authcore.__file__); print(pb.__file__)
            try:
                import gssapi
            except ModuleNotFoundError:
                print("no gssapi")
        """)], cwd=tmp_path, env=_clean_env(), check=True, capture_output=True, text=True,
        timeout=60)
    package, generated, gssapi = probe.stdout.splitlines()
    venv_root = str(installed.parent)
    assert package.startswith(venv_root) and generated.startswith(venv_root), probe.stdout
    assert str(ROOT) not in probe.stdout
    assert gssapi == "no gssapi"


@pytest.fixture(scope="module")
def served(installed: Path, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[str, str, Path]]:
    cwd = tmp_path_factory.mktemp("serve")
    http_port, grpc_port = free_port(), free_port()
    env = _clean_env(AUTHCORE_DATA_DIR=str(cwd / "var"), AUTHCORE_ADMIN_KEY=ADMIN_KEY,
                     AUTHCORE_HTTP_ADDR=f"127.0.0.1:{http_port}",
                     AUTHCORE_GRPC_ADDR=f"127.0.0.1:{grpc_port}",
                     AUTHCORE_WORKERS="2", PYTHONUNBUFFERED="1")
    log = cwd / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen([str(installed / "authcore"), "serve"], cwd=cwd, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    http_url = f"http://127.0.0.1:{http_port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            # Workers answer before the parent has printed its start-up lines.
            if "demo applicationId:" in log.read_text():
                try:
                    if httpx.get(http_url + "/readyz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield http_url, f"127.0.0.1:{grpc_port}", log
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    output = log.read_text()
    assert code == 0, output
    assert "Traceback" not in output and PASSWORD not in output, output


def test_the_installed_server_is_live_and_ready(served: tuple[str, str, Path]) -> None:
    http_url, grpc_addr, _ = served
    assert httpx.get(http_url + "/healthz").json() == {"status": "ok"}
    ready = httpx.get(http_url + "/readyz").json()
    assert ready["status"] == "ready" and ready["checks"]["migrations"]["ok"] is True
    with grpc.insecure_channel(grpc_addr) as channel:
        answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(),
                                                           timeout=10)
    assert answer.status == health_pb2.HealthCheckResponse.SERVING
    # The API docs come from the packaged descriptor set (comments included).
    spec = httpx.get(http_url + "/openapi.json").json()
    operation = spec["paths"]["/api/web/v2/authentication/users/authenticate/{authenticator}"]
    assert operation["post"]["summary"], operation


def test_the_installed_server_logs_in_and_refuses_kerberos(
        served: tuple[str, str, Path]) -> None:
    http_url, _, log = served
    found = re.search(r"demo applicationId: (\S+)", log.read_text())
    assert found, log.read_text()
    admin = httpx.Client(base_url=http_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    user = f"installed-{os.getpid()}@example.com"
    r = admin.post("/api/admin/v1/users", json={"userId": user, "email": user})
    assert r.status_code < 300, r.text
    r = admin.put(f"/api/admin/v1/users/{user}/password", json={"password": PASSWORD})
    assert r.status_code < 300, r.text
    ch = httpx.post(http_url + "/api/web/v2/authentication/users/authenticate/PASSWORD",
                    json={"applicationId": found.group(1), "userId": user})
    assert ch.status_code == 200, ch.text
    done = httpx.post(
        http_url + "/api/web/v1/authentication/users/authenticate/PASSWORD/complete",
        json={"response": PASSWORD}, headers={"Authorization": ch.json()["token"]})
    assert done.status_code == 200 and done.json()["authenticationCompleted"] is True, done.text

    r = httpx.post(http_url + "/api/v5/logon/authenticateByWindowsToken",
                   headers={"Authorization": "Negotiate YIIBAA=="},
                   json={"ApplicationId": found.group(1)})
    assert r.status_code == 501, r.text
    assert r.json() == {"Message": "Kerberos support is not installed on this server.",
                        "ErrorCode": "kerberos_not_installed"}

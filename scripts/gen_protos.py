"""Regenerate generated/ from proto/: Python messages, .pyi stubs, gRPC stubs
and a descriptor set (with source info, for grpcurl -protoset and the REST
bridge's OpenAPI descriptions).

google/api/*.proto come from the googleapis-common-protos wheel because the
remote buf registry is unreachable; they are also copied to .build/third_party
so that `buf lint` can resolve the imports.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import grpc_tools
from google.api import annotations_pb2
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[1]
PROTO = ROOT / "proto"
OUT = ROOT / "generated"
THIRD_PARTY = ROOT / ".build" / "third_party"


def generate(out: Path) -> int:
    googleapis = Path(annotations_pb2.__file__).resolve().parents[2]
    well_known = Path(grpc_tools.__file__).resolve().parent / "_proto"
    THIRD_PARTY.mkdir(parents=True, exist_ok=True)
    for sub in ("google/api",):
        dst = THIRD_PARTY / sub
        dst.mkdir(parents=True, exist_ok=True)
        for f in (googleapis / sub).glob("*.proto"):
            shutil.copy(f, dst / f.name)

    shutil.rmtree(out / "authcore", ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    files = sorted(str(p.relative_to(PROTO)) for p in PROTO.rglob("*.proto"))
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO}",
        f"-I{googleapis}",
        f"-I{well_known}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        f"--descriptor_set_out={out / 'authcore.binpb'}",
        "--include_imports",
        "--include_source_info",
        *files,
    ]
    rc = protoc.main(args)
    if rc != 0:
        print("protoc failed", file=sys.stderr)
        return int(rc)
    # authcore/ and authcore/v1/ stay namespace-free (no __init__.py): the
    # hand-written src/authcore adds generated/authcore to its __path__, so
    # `import authcore` is always src/authcore.
    return 0


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


def main() -> int:
    if "--check" not in sys.argv[1:]:
        return generate(OUT)
    with tempfile.TemporaryDirectory() as tmp:
        rc = generate(Path(tmp))
        if rc:
            return rc
        fresh, committed = _tree(Path(tmp)), _tree(OUT)
    stale = sorted(k for k in fresh.keys() | committed.keys()
                   if fresh.get(k) != committed.get(k))
    if stale:
        print("generated/ is stale; run scripts/gen_protos.py. Differs: " + ", ".join(stale),
              file=sys.stderr)
        return 1
    print("generated/ is up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Packaging that pyproject.toml can't express (metadata and dependencies
are there): the protoc output in generated/ (scripts/gen_protos.py) ships
inside the authcore package, as src/authcore/__init__.py (and
authcore/scim's) join it in a checkout:

* generated/authcore/<pkg> become the subpackages authcore.<pkg>
  (authcore.v1, authcore.scim.v2, authcore.axidian.v5, authcore.consumer.v1);
* generated/authcore.binpb (the descriptor set with comments, for the API
  docs) goes next to authcore/__init__.py (rest_bridge/comments.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import find_namespace_packages, setup
from setuptools.command.build_py import build_py

# Namespace packages too, as pyproject's packages.find did (the migrations).
SOURCE = find_namespace_packages("src")
GENERATED = [name for name in (f"authcore.{n}" for n in
                               find_namespace_packages("generated/authcore"))
             if name not in SOURCE]
DESCRIPTOR_SET = Path("generated") / "authcore.binpb"


class BuildPy(build_py):
    def run(self) -> None:
        super().run()
        if not self.editable_mode and DESCRIPTOR_SET.is_file():
            shutil.copyfile(DESCRIPTOR_SET, Path(self.build_lib) / "authcore" / "authcore.binpb")


setup(
    packages=SOURCE + GENERATED,
    package_dir={"": "src", **{name: "generated/" + name.replace(".", "/")
                               for name in GENERATED}},
    cmdclass={"build_py": BuildPy},
)

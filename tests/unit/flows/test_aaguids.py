"""The AAGUID table read line by line (flows/aaguids.py) against the whole
file parsed as JSON: every name and both icons of every entry match."""

from __future__ import annotations

import json

from authcore.flows import aaguids


def test_the_line_index_reads_what_the_json_holds() -> None:
    entries = json.loads(aaguids.DATA.read_text())["entries"]
    assert aaguids.preload() == len(entries) > 300
    for aaguid, want in entries.items():
        got = aaguids.lookup(aaguid.upper() + " ")
        assert got is not None, aaguid
        assert (got.aaguid, got.name, got.icon_light, got.icon_dark) == (
            aaguid, want["name"], want["icon_light"], want["icon_dark"])


def test_an_unknown_aaguid_is_none() -> None:
    assert aaguids.lookup("00000000-0000-0000-0000-000000000000") is None

"""The Axidian mode GUIDs and GUID parsing of flows/axidian.py."""

from __future__ import annotations

import uuid

import pytest

from authcore.flows import axidian
from authcore.flows.factors import FACTORS


def test_documented_domain_password_guid() -> None:
    assert axidian.PASSWORD == "cf189af5-01c5-469d-a859-a8f2f41ed153"
    assert axidian.MODES[0].guid == axidian.PASSWORD


@pytest.mark.parametrize("name,guid", [
    ("TOTP", axidian.TOTP), ("OTP_SMS", axidian.OTP_SMS), ("OTP_EMAIL", axidian.OTP_EMAIL),
])
def test_own_mode_guids_are_the_documented_uuid5(name: str, guid: str) -> None:
    # Written as literals; they must never drift from this derivation.
    assert guid == str(uuid.uuid5(uuid.NAMESPACE_URL,
                                  f"https://authcore.dev/axidian/mode/{name}"))
    assert axidian.MODES_BY_GUID[guid].name == name


def test_modes_name_real_factors_and_unique_guids() -> None:
    assert len({m.guid for m in axidian.MODES}) == len(axidian.MODES)
    assert [m.name for m in axidian.MODES] == ["PASSWORD", "TOTP", "OTP_SMS", "OTP_EMAIL"]
    for mode in axidian.MODES:
        assert mode.factor in FACTORS
        assert mode.guid == mode.guid.lower()
    assert {m.delivery for m in axidian.MODES if m.factor == "OTP"} == {"SMS", "EMAIL"}


G = "cf189af5-01c5-469d-a859-a8f2f41ed153"


@pytest.mark.parametrize("text", [
    G, G.upper(), f"{{{G}}}", f"({G})", G.replace("-", ""), f"  {G}\t",
    "CF189AF5-01c5-469D-a859-A8F2F41ED153",
])
def test_parse_guid_accepts_dotnet_formats(text: str) -> None:
    assert axidian.parse_guid(text) == G


@pytest.mark.parametrize("text", [
    "", "x", G[:-1], G + "0", G.replace("a", "g", 1), f"{{{G}", f"{G}}}", f"({G}}}",
    f"urn:uuid:{G}", "cf189af501c5-469d-a859-a8f2f41ed153", f"{{{G.replace('-', '')}}}",
    G.replace("-", "", 1), "-".join(["cf189af5", "01c5469d", "a859", "a8f2f41ed153"]),
])
def test_parse_guid_refuses_the_rest(text: str) -> None:
    assert axidian.parse_guid(text) is None

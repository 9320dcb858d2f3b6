from __future__ import annotations

import json
from pathlib import Path

from authcore.flows.names import AUTHENTICATOR_ORDER, type_name, type_value

SPEC = Path(__file__).resolve().parents[2] / "fixtures" / (
    "entrust-idaas-authentication-api-5.46.openapi.json")


def test_authenticator_type_has_the_spec_enum_in_order() -> None:
    spec = json.loads(SPEC.read_text())
    enum = spec["components"]["schemas"]["UserAuthenticateQueryResponse"]["properties"][
        "authenticationTypes"]["items"]["enum"]
    assert len(enum) == 21
    assert list(AUTHENTICATOR_ORDER) == enum


def test_round_trip_and_unknown() -> None:
    assert type_name(type_value("PASSWORD_AND_SECONDFACTOR")) == "PASSWORD_AND_SECONDFACTOR"
    assert type_name(0) == ""
    assert type_name(999) == ""

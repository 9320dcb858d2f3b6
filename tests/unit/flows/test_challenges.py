from __future__ import annotations

from authcore.flows.challenges import bare_token, token_hash


def test_bearer_prefix_is_optional_and_case_insensitive() -> None:
    assert bare_token("abc") == "abc"
    assert bare_token("Bearer abc") == "abc"
    assert bare_token("bearer   abc ") == "abc"
    assert bare_token("") == ""


def test_token_hash_is_sha256_hex() -> None:
    assert token_hash("abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")

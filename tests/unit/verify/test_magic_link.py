"""verify/magic_link.py: tokens, their keyed hashes and the link."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from authcore.verify.magic_link import (
    TOKEN_CHARS,
    MagicLinkVerificationError,
    generate_magic_link,
    hash_magic_link_token,
    verify_magic_link_token,
)

KEY = b"k" * 32


def test_a_link_carries_a_fresh_token_in_its_fragment() -> None:
    link = generate_magic_link(link_url="https://rp.example/m?x=1", key=KEY)
    assert link.url == f"https://rp.example/m?x=1#magicLinkToken={link.token}"
    assert len(link.token) == TOKEN_CHARS
    assert len(base64.urlsafe_b64decode(link.token + "=")) == 32
    assert link.token_hash == hash_magic_link_token(token=link.token, key=KEY)
    assert link.token not in link.token_hash
    assert generate_magic_link(link_url="https://rp.example/m", key=KEY).token != link.token


def test_the_hash_is_a_labelled_hmac() -> None:
    token = "A" * 43
    expected = hmac.new(KEY, b"authcore-magic-link-v1\n" + token.encode(),
                        hashlib.sha256).hexdigest()
    assert hash_magic_link_token(token=token, key=KEY) == expected
    # Not the bare HMAC another code's hash would be.
    assert expected != hmac.new(KEY, token.encode(), hashlib.sha256).hexdigest()
    assert hash_magic_link_token(token=token, key=b"o" * 32) != expected


def test_verify() -> None:
    link = generate_magic_link(link_url="https://rp.example/m", key=KEY)
    verify_magic_link_token(token=link.token, token_hash=link.token_hash, key=KEY)
    verify_magic_link_token(token=f" {link.token}\n", token_hash=link.token_hash, key=KEY)
    other = generate_magic_link(link_url="https://rp.example/m", key=KEY)
    with pytest.raises(MagicLinkVerificationError) as exc:
        verify_magic_link_token(token=other.token, token_hash=link.token_hash, key=KEY)
    assert exc.value.reason == "invalid_magic_link_token"


@pytest.mark.parametrize("token", ["", "short", "A" * 44, "A" * 42 + "=", "A" * 42 + "+",
                                   "A" * 42 + "\u00e9"])
def test_malformed_tokens(token: str) -> None:
    with pytest.raises(MagicLinkVerificationError) as exc:
        hash_magic_link_token(token=token, key=KEY)
    assert exc.value.reason == "malformed_magic_link_token"


def test_bad_parameters() -> None:
    with pytest.raises(MagicLinkVerificationError) as exc:
        generate_magic_link(link_url="https://rp.example/m#frag", key=KEY)
    assert exc.value.reason == "invalid_parameters"
    with pytest.raises(MagicLinkVerificationError) as exc:
        hash_magic_link_token(token="A" * 43, key=b"short")
    assert exc.value.reason == "invalid_parameters"

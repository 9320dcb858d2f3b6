"""Magic links (MAGICLINK): a random single-use token emailed as a link.

The token is 32 random bytes (base64url, 43 characters); only its keyed hash
(HMAC-SHA256 under the server's code key, with a label of its own so that no
other code's hash can stand for it) is stored. The link is the relying
party's page with the token in the URL *fragment*, so the token reaches
neither a server's access log nor a Referer header.

Failure reasons (``MagicLinkVerificationError.reason``):

* ``malformed_magic_link_token`` - not a token of this module's shape.
* ``invalid_magic_link_token`` - the token is not the one the link carried.
* ``invalid_parameters`` - an unusable hashing key, or a link URL with a
  fragment.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Final

from authcore.verify.errors import VerificationError

__all__ = [
    "MagicLink",
    "MagicLinkVerificationError",
    "generate_magic_link",
    "hash_magic_link_token",
    "verify_magic_link_token",
]

TOKEN_BYTES: Final = 32
# base64url without padding of TOKEN_BYTES.
TOKEN_CHARS: Final = 43
FRAGMENT_NAME: Final = "magicLinkToken"
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{43}")
_LABEL: Final = b"authcore-magic-link-v1\n"
_MIN_HMAC_KEY_BYTES: Final = 16


class MagicLinkVerificationError(VerificationError):
    """Raised by every failure in this module."""


@dataclass(frozen=True)
class MagicLink:
    token: str
    token_hash: str
    # link_url + "#magicLinkToken=" + token: what the email carries.
    url: str


def _check_key(key: bytes) -> None:
    if len(key) < _MIN_HMAC_KEY_BYTES:
        raise MagicLinkVerificationError("invalid_parameters", "hashing key too short")


def hash_magic_link_token(*, token: str, key: bytes) -> str:
    """The hex HMAC-SHA256 under which a token is stored and looked up."""
    _check_key(key)
    if not _TOKEN_RE.fullmatch(token):
        raise MagicLinkVerificationError("malformed_magic_link_token",
                                         "not a magic link token")
    return hmac.new(key, _LABEL + token.encode(), hashlib.sha256).hexdigest()


def generate_magic_link(*, link_url: str, key: bytes) -> MagicLink:
    """A fresh token, its stored hash and the link to email."""
    if "#" in link_url:
        raise MagicLinkVerificationError("invalid_parameters", "the link URL has a fragment")
    token = base64.urlsafe_b64encode(secrets.token_bytes(TOKEN_BYTES)).rstrip(b"=").decode()
    return MagicLink(token=token, token_hash=hash_magic_link_token(token=token, key=key),
                     url=f"{link_url}#{FRAGMENT_NAME}={token}")


def verify_magic_link_token(*, token: str, token_hash: str, key: bytes) -> None:
    """Check a submitted token against the stored hash, in constant time."""
    submitted = hash_magic_link_token(token=token.strip(), key=key)
    if not hmac.compare_digest(submitted.encode(), token_hash.encode()):
        raise MagicLinkVerificationError("invalid_magic_link_token", "token does not match")

"""A minimal software WebAuthn authenticator plus client for API tests.

It plays both the browser (clientDataJSON, JSON encoding) and the
authenticator (authenticator data, COSE keys, signatures), producing the
standard RegistrationResponseJSON / AuthenticationResponseJSON dicts with
base64url fields. Negative tests pass the wrong origin / RP ID through the
parameters, or tamper with the returned dict. End-to-end tests use
Chromium's virtual authenticator instead.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import struct
from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

__all__ = ["EDDSA", "ES256", "RS256", "SoftAuthenticator", "SoftCredential", "b64url", "unb64url"]

ES256 = -7
EDDSA = -8
RS256 = -257

_FLAG_UP = 0x01
_FLAG_UV = 0x04
_FLAG_BE = 0x08
_FLAG_BS = 0x10
_FLAG_AT = 0x40

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def unb64url(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


@dataclass
class SoftCredential:
    credential_id: bytes
    private_key: PrivateKey
    alg: int
    rp_id: str
    user_handle: bytes
    sign_count: int

    def cose_public_key(self) -> bytes:
        return _cose_public_key(self.private_key, self.alg)


def _generate_key(alg: int) -> PrivateKey:
    if alg == ES256:
        return ec.generate_private_key(ec.SECP256R1())
    if alg == RS256:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg == EDDSA:
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"unsupported alg {alg}")


def _cose_public_key(private_key: PrivateKey, alg: int) -> bytes:
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        numbers = private_key.public_key().public_numbers()
        size = (private_key.curve.key_size + 7) // 8
        return cbor2.dumps(
            {
                1: 2,  # kty: EC2
                3: alg,
                -1: 1,  # crv: P-256
                -2: numbers.x.to_bytes(size, "big"),
                -3: numbers.y.to_bytes(size, "big"),
            }
        )
    if isinstance(private_key, rsa.RSAPrivateKey):
        rsa_numbers = private_key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 3,  # kty: RSA
                3: alg,
                -1: rsa_numbers.n.to_bytes((rsa_numbers.n.bit_length() + 7) // 8, "big"),
                -2: rsa_numbers.e.to_bytes((rsa_numbers.e.bit_length() + 7) // 8, "big"),
            }
        )
    raw = private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return cbor2.dumps({1: 1, 3: alg, -1: 6, -2: raw})  # kty: OKP, crv: Ed25519


def _sign(private_key: PrivateKey, data: bytes) -> bytes:
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        return private_key.sign(data, ec.ECDSA(hashes.SHA256()))
    if isinstance(private_key, rsa.RSAPrivateKey):
        return private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return private_key.sign(data)


def _client_data(kind: str, challenge: str, origin: str) -> bytes:
    # Browsers re-encode the challenge bytes; decoding first keeps that true
    # even if the options carried padded or standard base64.
    return json.dumps(
        {
            "type": kind,
            "challenge": b64url(unb64url(challenge)),
            "origin": origin,
            "crossOrigin": False,
        },
        separators=(",", ":"),
    ).encode()


class SoftAuthenticator:
    """One authenticator holding any number of discoverable credentials."""

    def __init__(
        self,
        *,
        alg: int = ES256,
        aaguid: bytes = bytes(16),
        sign_count_start: int = 0,
        backup_eligible: bool = False,
        backup_state: bool = False,
    ) -> None:
        if alg not in (ES256, RS256, EDDSA):
            raise ValueError(f"unsupported alg {alg}")
        if len(aaguid) != 16:
            raise ValueError("aaguid must be 16 bytes")
        self.alg = alg
        self.aaguid = aaguid
        self.sign_count_start = sign_count_start
        self.backup_eligible = backup_eligible
        self.backup_state = backup_state
        self.credentials: dict[bytes, SoftCredential] = {}
        self.last_credential: SoftCredential | None = None

    def _flags(self, *, user_verified: bool, attested: bool = False) -> int:
        flags = _FLAG_UP
        if user_verified:
            flags |= _FLAG_UV
        if self.backup_eligible:
            flags |= _FLAG_BE
        if self.backup_state:
            flags |= _FLAG_BS
        if attested:
            flags |= _FLAG_AT
        return flags

    def create(
        self,
        *,
        options: dict[str, Any],
        origin: str,
        user_verified: bool = True,
        fmt: str = "none",
        rp_id: str | None = None,
    ) -> dict[str, Any]:
        """Answer PublicKeyCredentialCreationOptionsJSON with a new credential.

        ``rp_id`` overrides the RP ID hashed into the authenticator data.
        """
        if fmt not in ("none", "packed"):
            raise ValueError(f"unsupported attestation format {fmt}")
        options_rp_id = options["rp"].get("id")
        for excluded in options.get("excludeCredentials", []):
            known = self.credentials.get(unb64url(excluded["id"]))
            if known is not None and known.rp_id == options_rp_id:
                raise ValueError("InvalidStateError: credential already registered")

        credential = SoftCredential(
            credential_id=secrets.token_bytes(32),
            private_key=_generate_key(self.alg),
            alg=self.alg,
            rp_id=options_rp_id,
            user_handle=unb64url(options["user"]["id"]),
            sign_count=self.sign_count_start,
        )
        cose_key = credential.cose_public_key()
        auth_data = (
            hashlib.sha256((rp_id or options_rp_id).encode()).digest()
            + bytes([self._flags(user_verified=user_verified, attested=True)])
            + struct.pack(">I", credential.sign_count)
            + self.aaguid
            + struct.pack(">H", len(credential.credential_id))
            + credential.credential_id
            + cose_key
        )
        client_data = _client_data("webauthn.create", options["challenge"], origin)
        att_stmt: dict[str, Any] = {}
        if fmt == "packed":
            # Self attestation: signed by the credential key itself, no x5c.
            signature = _sign(
                credential.private_key, auth_data + hashlib.sha256(client_data).digest()
            )
            att_stmt = {"alg": self.alg, "sig": signature}
        attestation_object = cbor2.dumps({"fmt": fmt, "attStmt": att_stmt, "authData": auth_data})

        self.credentials[credential.credential_id] = credential
        self.last_credential = credential
        public_key_der = credential.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return {
            "id": b64url(credential.credential_id),
            "rawId": b64url(credential.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation_object),
                "authenticatorData": b64url(auth_data),
                "publicKey": b64url(public_key_der),
                "publicKeyAlgorithm": self.alg,
                "transports": ["internal"],
            },
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
        }

    def _select(self, options: dict[str, Any], credential_id: bytes | None) -> SoftCredential:
        if credential_id is not None:
            return self.credentials[credential_id]
        allowed = [unb64url(entry["id"]) for entry in options.get("allowCredentials", [])]
        if allowed:
            for candidate in allowed:
                if candidate in self.credentials:
                    return self.credentials[candidate]
            raise ValueError("NotAllowedError: no allowed credential on this authenticator")
        rp_id = options.get("rpId")
        for credential in reversed(list(self.credentials.values())):
            if credential.rp_id == rp_id:
                return credential
        raise ValueError("NotAllowedError: no discoverable credential for this RP")

    def get(
        self,
        *,
        options: dict[str, Any],
        origin: str,
        user_verified: bool = True,
        credential_id: bytes | None = None,
        sign_count: int | None = None,
        rp_id: str | None = None,
    ) -> dict[str, Any]:
        """Answer PublicKeyCredentialRequestOptionsJSON with an assertion.

        ``sign_count`` forces the reported counter (the stored one is left
        alone); otherwise the counter is incremented first. ``rp_id``
        overrides the RP ID hashed into the authenticator data.
        """
        credential = self._select(options, credential_id)
        if sign_count is None:
            credential.sign_count += 1
            sign_count = credential.sign_count
        auth_data = (
            hashlib.sha256((rp_id or credential.rp_id).encode()).digest()
            + bytes([self._flags(user_verified=user_verified)])
            + struct.pack(">I", sign_count)
        )
        client_data = _client_data("webauthn.get", options["challenge"], origin)
        signature = _sign(credential.private_key, auth_data + hashlib.sha256(client_data).digest())
        return {
            "id": b64url(credential.credential_id),
            "rawId": b64url(credential.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": b64url(credential.user_handle),
            },
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
        }

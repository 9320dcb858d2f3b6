"""One flow module per authenticator, all implementing factors.base.Factor."""

from __future__ import annotations

from authcore.flows.factors.base import Factor
from authcore.flows.factors.external import ExternalFactor
from authcore.flows.factors.fido import FidoFactor, PasskeyFactor
from authcore.flows.factors.grid import GridFactor
from authcore.flows.factors.idp import IdpFactor
from authcore.flows.factors.kba import KbaFactor
from authcore.flows.factors.machine import MachineFactor
from authcore.flows.factors.magic_link import MAGIC_LINK
from authcore.flows.factors.otp import OtpFactor
from authcore.flows.factors.password import PasswordFactor
from authcore.flows.factors.push import SMART_CREDENTIAL_PUSH, TOKEN_PUSH
from authcore.flows.factors.temp_code import TempCodeFactor
from authcore.flows.factors.token import TokenFactor
from authcore.flows.factors.token_cr import TokenCrFactor
from authcore.flows.factors.user_certificate import UserCertificateFactor

FACTORS: dict[str, Factor] = {
    f.name: f
    for f in (PasswordFactor(), OtpFactor(), TokenFactor(), TokenCrFactor(), GridFactor(),
              KbaFactor(),
              TempCodeFactor(), FidoFactor(), PasskeyFactor(), MachineFactor(),
              UserCertificateFactor(), IdpFactor(), ExternalFactor(), ExternalFactor("PASSTHROUGH"),
              TOKEN_PUSH,
              SMART_CREDENTIAL_PUSH, MAGIC_LINK)
}

# What can follow a password in PASSWORD_AND_SECONDFACTOR (and an IDP
# login in IDP_AND_SECONDFACTOR).
SECOND_FACTORS = ("TOKEN", "TOKENCR", "OTP", "GRID", "KBA", "TEMP_ACCESS_CODE", "FIDO",
                  "MACHINE", "TOKENPUSH", "SMARTCREDENTIALPUSH", "MAGICLINK")

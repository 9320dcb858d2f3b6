"""A throw-away MIT Kerberos realm on loopback (k5test + Debian's krb5-kdc),
and a SPNEGO client, for the Windows-logon (authenticateByWindowsToken) tests.

The realm runs `krb5kdc` in a temporary directory on free loopback ports. It
holds a service principal HTTP/localhost exported to a keytab (what authcore
accepts with) and user principals the test process logs on as, each with its
own credential cache: the test process plays the Windows client.

Host names are not canonicalised (`dns_canonicalize_hostname`/`rdns` off), so
the client asks for exactly HTTP/localhost@REALM.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REALM = "KRBTEST.COM"
SERVICE_HOST = "localhost"
SERVICE_PRINCIPAL = f"HTTP/{SERVICE_HOST}@{REALM}"
SPNEGO_OID = "1.3.6.1.5.5.2"
KRB5KDC = shutil.which("krb5kdc") or "/usr/sbin/krb5kdc"


def have_kdc() -> bool:
    """MIT's KDC and admin tools (krb5-kdc, krb5-admin-server, krb5-user)."""
    return all(shutil.which(tool) or os.path.exists(f"/usr/sbin/{tool}")
               for tool in ("krb5kdc", "kdb5_util", "kadmin.local", "kinit"))


def _free_port_base() -> int:
    """A port free for both TCP and UDP (the KDC listens on both)."""
    for _ in range(50):
        with socket.socket() as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
        return port
    raise RuntimeError("no free port for the test KDC")


@dataclass
class KerberosRealm:
    """A running realm: `env` is what Kerberos clients of it (the authcore
    server, the test process) need; `keytab` holds HTTP/localhost's keys."""

    realm: Any  # k5test.K5Realm
    keytab: Path
    service_principal: str = SERVICE_PRINCIPAL
    ccaches: dict[str, Path] = field(default_factory=dict)
    services: set[str] = field(default_factory=set)

    @property
    def name(self) -> str:
        return str(self.realm.realm)

    @property
    def tmpdir(self) -> Path:
        return Path(self.realm.tmpdir)

    @property
    def server_env(self) -> dict[str, str]:
        """For the authcore server: the realm's krb5.conf and a private replay
        cache directory. Not KRB5_KTNAME: the server must find its keytab
        through AUTHCORE_KERBEROS_KEYTAB alone."""
        env = self.realm.env
        return {"KRB5_CONFIG": env["KRB5_CONFIG"], "KRB5RCACHEDIR": env["KRB5RCACHEDIR"],
                "KRB5_KTNAME": str(self.tmpdir / "no-such-default.keytab")}

    def add_service(self, principal: str, keytab: Path | None = None) -> None:
        """A service principal with a random key, exported to `keytab` if given."""
        self.realm.addprinc(principal)
        self.services.add(principal.partition("@")[0])
        if keytab is not None:
            self.realm.extract_keytab(principal, str(keytab))

    def add_user(self, principal: str) -> Path:
        """A user principal with a password, logged on (kinit) into its own
        credential cache, whose path is returned."""
        self.realm.addprinc(principal, self.realm.password(principal))
        return self.login(principal)

    def login(self, principal: str) -> Path:
        safe = principal.replace("/", "_").replace("@", "_")
        ccache = self.tmpdir / f"ccache-{safe}"
        self.realm.kinit(principal, self.realm.password(principal),
                         flags=["-c", f"FILE:{ccache}"])
        self.ccaches[principal] = ccache
        return ccache

    def client(self, principal: str) -> SpnegoClient:
        if principal not in self.ccaches:
            self.add_user(principal)
        return SpnegoClient(self.ccaches[principal])


class SpnegoClient:
    """The Windows side: a SPNEGO initiator for HTTP@<host> from one ccache.

    `negotiate()` gives the `Authorization` value for a fresh security
    context, and keeps that context so `finish()` can check the server's
    mutual-authentication reply. Needs KRB5_CONFIG of the realm in this
    process's environment (MIT reads it per call; see `client_environment`).
    """

    def __init__(self, ccache: Path) -> None:
        self.ccache = ccache
        self.context: Any = None

    def negotiate(self, service_host: str = SERVICE_HOST, *, spnego: bool = True) -> str:
        import gssapi

        creds = gssapi.Credentials(usage="initiate", store={"ccache": f"FILE:{self.ccache}"})
        target = gssapi.Name(f"HTTP@{service_host}", gssapi.NameType.hostbased_service)
        mech = gssapi.OID.from_int_seq(SPNEGO_OID) if spnego else gssapi.MechType.kerberos
        flags = (gssapi.RequirementFlag.mutual_authentication
                 | gssapi.RequirementFlag.out_of_sequence_detection)
        self.context = gssapi.SecurityContext(name=target, creds=creds, usage="initiate",
                                              mech=mech, flags=flags)
        token = self.context.step()
        return "Negotiate " + base64.b64encode(token).decode()

    def finish(self, www_authenticate: str) -> bool:
        """Feed the server's `Negotiate <reply>` to the context; True when the
        context is then complete (the server proved it holds the key)."""
        scheme, _, reply = www_authenticate.partition(" ")
        assert scheme == "Negotiate" and reply, www_authenticate
        self.context.step(base64.b64decode(reply))
        return bool(self.context.complete)


@contextmanager
def client_environment(realm: KerberosRealm) -> Iterator[None]:
    """Point this process's Kerberos library at the realm (KRB5_CONFIG) for the
    duration; ccaches are named explicitly, never through KRB5CCNAME."""
    saved = {k: os.environ.get(k) for k in ("KRB5_CONFIG", "KRB5CCNAME")}
    os.environ["KRB5_CONFIG"] = realm.realm.env["KRB5_CONFIG"]
    os.environ["KRB5CCNAME"] = f"FILE:{realm.tmpdir / 'no-default-ccache'}"
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def kerberos_realm(realm_name: str = REALM) -> Iterator[KerberosRealm]:
    """Start a KDC for `realm_name` with HTTP/localhost in `<tmpdir>/http.keytab`;
    stopped and removed on exit."""
    from k5test import K5Realm

    overrides = {
        "libdefaults": {"dns_canonicalize_hostname": "false", "rdns": "false",
                        "dns_lookup_realm": "false", "udp_preference_limit": "1"},
        # k5test writes the KDC's address as the host's FQDN; stay on loopback.
        "realms": {"$realm": {"kdc": "127.0.0.1:$port0",
                              "admin_server": "127.0.0.1:$port1",
                              "kpasswd_server": "127.0.0.1:$port2"}},
    }
    last: Exception | None = None
    for _ in range(3):
        try:
            k5 = K5Realm(realm=realm_name, portbase=_free_port_base(), krb5_conf=overrides,
                         create_user=False, create_host=False, get_creds=False)
            break
        except Exception as exc:  # a port taken between probe and start
            last = exc
    else:
        raise RuntimeError(f"the test KDC did not start: {last}")
    try:
        keytab = Path(k5.tmpdir) / "http.keytab"
        realm = KerberosRealm(k5, keytab, service_principal=f"HTTP/{SERVICE_HOST}@{realm_name}")
        realm.add_service(realm.service_principal, keytab)
        yield realm
    finally:
        k5.stop()

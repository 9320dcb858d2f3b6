"""PostgreSQL URLs naming several hosts, for both drivers authcore uses.

An operator writes the libpq form,

    postgresql+asyncpg://user:pass@h1:5432,h2:5432/authcore?target_session_attrs=read-write

and each connection (SQLAlchemy's engine and the hot paths' asyncpg pool)
tries the hosts in order and keeps the first that matches
`target_session_attrs` (`read-write`: the primary). SQLAlchemy can't parse
hosts in the netloc (it reads `5432,h2:5432` as a port), so the engine gets
its own multi-host form, `...@/authcore?host=h1:5432&host=h2:5432&...`,
which is accepted as input too. asyncpg can't read that form back (its DSN
parser keeps the last of repeated parameters), so the pool gets the libpq
form again. Single-host URLs pass through both unchanged.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from sqlalchemy.engine import URL, make_url

__all__ = ["asyncpg_dsn", "sqlalchemy_url"]

DEFAULT_PORT = 5432


def _split_netloc_hosts(url: str) -> tuple[str, str, list[str], str] | None:
    """(scheme, userinfo, hosts, rest) when the netloc names several hosts."""
    scheme, sep, tail = url.partition("://")
    if not sep:
        return None
    end = len(tail)
    for stop in "/?#":
        at = tail.find(stop)
        if at != -1:
            end = min(end, at)
    netloc, rest = tail[:end], tail[end:]
    userinfo, at_sign, hostlist = netloc.rpartition("@")
    if "," not in hostlist:
        return None
    hosts = [h.strip() for h in hostlist.split(",")]
    if any(not h for h in hosts):
        raise ValueError("the database URL has an empty host in its host list")
    return scheme, userinfo + at_sign, hosts, rest


def _with_port(host: str) -> str:
    """`host:port`, adding the default port: SQLAlchemy's asyncpg dialect
    wants every host of a list to have one."""
    if host.startswith("["):
        # SQLAlchemy's host-list parser splits at every colon.
        raise ValueError("IPv6 addresses can't be used in a database host list; "
                         "name those hosts (e.g. in /etc/hosts)")
    return host if ":" in host else f"{host}:{DEFAULT_PORT}"


def sqlalchemy_url(url: str) -> str:
    """`url` in a form SQLAlchemy's create_engine accepts: a netloc host
    list becomes repeated `host=` parameters; anything else is unchanged."""
    if not url.startswith("postgresql"):
        return url
    split = _split_netloc_hosts(url)
    if split is None:
        return url
    scheme, userinfo, hosts, rest = split
    path, qmark, query = rest.partition("?")
    if any(part.partition("=")[0] in ("host", "port") for part in query.split("&")):
        raise ValueError("the database URL names hosts both before the database name "
                         "and in host=/port= parameters; use one form")
    host_params = urlencode([("host", _with_port(h)) for h in hosts], safe=":[]")
    query = host_params + ("&" + query if qmark and query else "")
    return f"{scheme}://{userinfo}{path or '/'}?{query}"


def _hosts_of(url: URL) -> list[str]:
    """The `host:port` entries of a parsed (SQLAlchemy) URL, in order."""
    query_hosts = url.query.get("host")
    if not query_hosts:
        if url.host is None:
            return []
        host = f"[{url.host}]" if ":" in url.host else url.host
        return [f"{host}:{url.port}" if url.port else host]
    hosts = [query_hosts] if isinstance(query_hosts, str) else list(query_hosts)
    ports = url.query.get("port")
    if ports:
        # The `host=h1,h2&port=p1,p2` spelling.
        port_list = (ports if isinstance(ports, str) else ",".join(ports)).split(",")
        host_list = ",".join(hosts).split(",")
        if len(port_list) != len(host_list):
            raise ValueError("the database URL's host= and port= lists differ in length")
        return [f"{h}:{p}" if p else h for h, p in zip(host_list, port_list, strict=True)]
    return [h for entry in hosts for h in entry.split(",") if h]


def asyncpg_dsn(url: str) -> str:
    """The SQLAlchemy URL (`postgresql+asyncpg://...`, either multi-host
    form) as an asyncpg DSN."""
    parsed = make_url(sqlalchemy_url(url))
    query_hosts = parsed.query.get("host")
    several = (isinstance(query_hosts, str) and "," in query_hosts) or (
        isinstance(query_hosts, tuple) and len(query_hosts) > 1)
    if not several:
        # One host (a socket directory in host= included): asyncpg reads
        # SQLAlchemy's rendering as it is.
        return parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    userinfo = ""
    if parsed.username is not None:
        userinfo = quote(parsed.username, safe="")
        if parsed.password is not None:
            userinfo += ":" + quote(str(parsed.password), safe="")
        userinfo += "@"
    hosts = ",".join(_hosts_of(parsed))
    database = quote(parsed.database or "", safe="")
    rest = [(k, v) for k, values in parsed.query.items() if k not in ("host", "port")
            for v in ((values,) if isinstance(values, str) else values)]
    query = "?" + urlencode(rest) if rest else ""
    return f"postgresql://{userinfo}{hosts}/{database}{query}"

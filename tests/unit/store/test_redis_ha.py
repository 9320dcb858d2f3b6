"""Sentinel URL parsing (store/redis_ha.py) and the client it builds."""

from __future__ import annotations

import ssl

import pytest
from redis.asyncio.sentinel import SentinelConnectionPool

from authcore.store.redis import connect
from authcore.store.redis_ha import (
    DEFAULT_SENTINEL_PORT,
    SentinelUrl,
    is_sentinel_url,
    parse_sentinel_url,
)


def test_the_documented_form() -> None:
    url = parse_sentinel_url(
        "redis+sentinel://:s%3Acret@h1:26379,h2:26380,h3/authcore/2"
        "?sentinel_password=other")
    assert url == SentinelUrl(
        sentinels=(("h1", 26379), ("h2", 26380), ("h3", DEFAULT_SENTINEL_PORT)),
        service_name="authcore", db=2, password="s:cret", sentinel_password="other")


def test_user_and_password_and_the_defaults() -> None:
    url = parse_sentinel_url("redis+sentinel://app:pw@[::1]:5000/mymaster")
    assert url.username == "app" and url.password == "pw"
    assert url.sentinels == (("::1", 5000),)
    assert url.db == 0 and not url.ssl and url.sentinel_password is None
    # A bare userinfo is the password, as redis-py reads redis://secret@host.
    assert parse_sentinel_url("redis+sentinel://secret@h/m").password == "secret"
    assert parse_sentinel_url("redis+sentinel://h/m/").service_name == "m"


def test_tls_options() -> None:
    url = parse_sentinel_url("rediss+sentinel://h/m?ssl_ca_certs=/etc/ca.pem"
                             "&ssl_cert_reqs=required")
    assert url.ssl and url.ssl_ca_certs == "/etc/ca.pem" and url.ssl_cert_reqs == "required"


@pytest.mark.parametrize(("url", "says"), [
    ("redis://h:6379/0", "redis+sentinel://"),
    ("redis+sentinel://h1,h2", "names the monitored service"),
    ("redis+sentinel://h1/", "names the monitored service"),
    ("redis+sentinel://h1/m/x", "is a number"),
    ("redis+sentinel://h1/m/0/extra", "/<service>[/db]"),
    ("redis+sentinel://h1:99999/m", "invalid port"),
    ("redis+sentinel://h1:port/m", "invalid port"),
    ("redis+sentinel://h1,,h2/m", "no host"),
    ("redis+sentinel://h1/m?socket_timeout=5", "unknown sentinel URL option"),
    ("redis+sentinel://h1/m?ssl_ca_certs=/x", "need rediss+sentinel"),
    ("rediss+sentinel://h1/m?ssl_cert_reqs=maybe", "none, optional, required"),
])
def test_malformed_urls_say_what_is_wrong(url: str, says: str) -> None:
    with pytest.raises(ValueError) as exc:
        parse_sentinel_url(url)
    assert says in str(exc.value)


def test_errors_and_repr_never_show_a_password() -> None:
    with pytest.raises(ValueError) as exc:
        parse_sentinel_url("redis+sentinel://:hunter2@h1/m?bogus=1")
    assert "hunter2" not in str(exc.value)
    url = parse_sentinel_url("redis+sentinel://:hunter2@h1/m?sentinel_password=hunter3")
    assert "hunter" not in repr(url)


def test_is_sentinel_url() -> None:
    assert is_sentinel_url("redis+sentinel://h/m")
    assert is_sentinel_url("REDISS+SENTINEL://h/m")
    assert not is_sentinel_url("redis://h:6379/0")
    assert not is_sentinel_url("rediss://h:6379/0")


async def test_connect_builds_a_queueing_sentinel_pool() -> None:
    # Nothing is contacted until the first command.
    client = connect("rediss+sentinel://:pw@127.0.0.1:1,127.0.0.1:2/svc/3"
                     "?sentinel_password=sp&ssl_cert_reqs=none")
    try:
        pool = client.connection_pool
        assert isinstance(pool, SentinelConnectionPool)
        assert pool.service_name == "svc"
        assert pool.max_connections == 64 and pool.timeout == 2.0  # type: ignore[attr-defined]
        kwargs = pool.connection_kwargs
        assert kwargs["db"] == 3 and kwargs["password"] == "pw"
        assert kwargs["ssl_cert_reqs"] == ssl.CERT_NONE
        assert kwargs["decode_responses"] is True
        sentinels = pool.sentinel_manager.sentinels
        assert [(s.connection_pool.connection_kwargs["host"],
                 s.connection_pool.connection_kwargs["port"]) for s in sentinels] == [
            ("127.0.0.1", 1), ("127.0.0.1", 2)]
        assert sentinels[0].connection_pool.connection_kwargs["password"] == "sp"
    finally:
        await client.aclose()


def test_wait_replicas_setting() -> None:
    from authcore.config import Settings

    env = {"AUTHCORE_REDIS_URL": "redis+sentinel://h/m", "AUTHCORE_REDIS_WAIT_REPLICAS": "1"}
    settings = Settings.from_env(env)
    assert settings.redis_wait_replicas == 1
    settings.check()
    assert Settings.from_env({}).redis_wait_replicas == 0
    with pytest.raises(SystemExit, match="needs AUTHCORE_REDIS_URL"):
        Settings.from_env({"AUTHCORE_REDIS_WAIT_REPLICAS": "1"}).check()
    with pytest.raises(SystemExit, match="between 0 and 16"):
        Settings.from_env({**env, "AUTHCORE_REDIS_WAIT_REPLICAS": "-1"}).check()

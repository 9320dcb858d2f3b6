"""Settings from the environment, and the combinations refused at start."""

from __future__ import annotations

from pathlib import Path

import pytest

from authcore.config import Settings
from authcore.flows.context import FileOffsetClock

PG = "postgresql+asyncpg://postgres@127.0.0.1/test"


def test_sandbox_and_consumer_settings_read() -> None:
    s = Settings.from_env({"AUTHCORE_SANDBOX": "1", "AUTHCORE_CLOCK_OFFSET_FILE": "/tmp/c",
                           "AUTHCORE_CONSUMER_IDLE_SECONDS": "60",
                           "AUTHCORE_KERBEROS_REALMS": " A.EXAMPLE, B.EXAMPLE ,"})
    assert s.sandbox and s.clock_offset_file == Path("/tmp/c")
    assert s.consumer_idle_seconds == 60
    assert s.kerberos_realms == ("A.EXAMPLE", "B.EXAMPLE")
    s.check()  # SQLite: allowed


def test_sandbox_is_off_by_default_and_refused_on_postgresql() -> None:
    assert not Settings.from_env({}).sandbox
    with pytest.raises(SystemExit, match="AUTHCORE_SANDBOX"):
        Settings.from_env({"AUTHCORE_SANDBOX": "1", "AUTHCORE_DATABASE_URL": PG}).check()


def test_clock_offset_needs_the_sandbox() -> None:
    with pytest.raises(SystemExit, match="AUTHCORE_SANDBOX"):
        Settings.from_env({"AUTHCORE_CLOCK_OFFSET_FILE": "/tmp/c"}).check()


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_bad_booleans_refused(value: str) -> None:
    with pytest.raises(SystemExit, match="AUTHCORE_SANDBOX"):
        Settings.from_env({"AUTHCORE_SANDBOX": value})


def test_logout_url_defaults_to_the_public_url() -> None:
    assert Settings(http_addr="127.0.0.1:9").logout_url == "http://127.0.0.1:9/"
    assert Settings(consumer_logout_url="https://shop/bye").logout_url == "https://shop/bye"


def test_offset_clock_follows_the_file(tmp_path: Path) -> None:
    path = tmp_path / "offset"
    clock = FileOffsetClock(path)
    base = clock()
    path.write_text("3600")
    assert 3599 < clock() - base < 3700
    path.write_text("not a number")
    assert abs(clock() - base) < 100


def test_the_lockout_policy_is_the_directorys() -> None:
    from authcore.limits.lockout import LockoutPolicy

    assert Settings.from_env({}).lockout == LockoutPolicy(max_failures=5, lockout_seconds=1800)
    got = Settings.from_env({"AUTHCORE_LOCKOUT_MAX_FAILURES": "3",
                             "AUTHCORE_LOCKOUT_SECONDS": "0"}).lockout
    assert got == LockoutPolicy(max_failures=3, lockout_seconds=0)
    for name, value in (("AUTHCORE_LOCKOUT_MAX_FAILURES", "0"),
                        ("AUTHCORE_LOCKOUT_MAX_FAILURES", "1001"),
                        ("AUTHCORE_LOCKOUT_SECONDS", "-1")):
        with pytest.raises(SystemExit, match=name):
            Settings.from_env({name: value})

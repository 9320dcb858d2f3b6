"""Which channel carries which medium (delivery/setup.py), the one start-up
line saying so, and the settings it reads (config.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from authcore.config import Settings
from authcore.delivery.setup import build_channels, describe
from authcore.delivery.smtp import SmtpChannel
from authcore.delivery.webhook import WebhookChannel

SECRET = "s" * 32


def settings(**env: str) -> Settings:
    return Settings.from_env(env)


def test_nothing_configured_holds_everything() -> None:
    s = settings()
    assert build_channels(s) == {}
    assert describe(s) == ("delivery: EMAIL, SMS, VOICE, PUSH held in the outbox "
                           "(no channel configured)")


async def test_every_channel_and_no_secret_in_the_line() -> None:
    s = settings(AUTHCORE_SMTP_URL="smtps://mailuser:hunter2@mx.example",
                 AUTHCORE_SMTP_FROM="a@b.c",
                 AUTHCORE_SMS_WEBHOOK_URL="https://hook:pw@sms.example/send?token=tok",
                 AUTHCORE_PUSH_WEBHOOK_URL="https://push.example/relay",
                 AUTHCORE_WEBHOOK_SECRET=SECRET)
    s.check()
    channels = build_channels(s)
    try:
        assert isinstance(channels["EMAIL"], SmtpChannel)
        assert isinstance(channels["SMS"], WebhookChannel)
        assert channels["SMS"] is channels["VOICE"] and channels["PUSH"] is not channels["SMS"]
        line = describe(s)
        assert line == ("delivery: EMAIL via smtps://mx.example:465 (implicit TLS); "
                        "SMS, VOICE via sms webhook https://sms.example/send; "
                        "PUSH via push webhook https://push.example/relay")
        for secret in ("hunter2", "mailuser", "pw@", "tok", SECRET):
            assert secret not in line
        assert "hunter2" not in repr(s) and SECRET not in repr(s)
    finally:
        for channel in channels.values():
            await channel.close()


def test_email_only_says_what_stays_held() -> None:
    s = settings(AUTHCORE_SMTP_URL="smtp://mx.example:2525?starttls=true",
                 AUTHCORE_SMTP_FROM="a@b.c")
    assert describe(s) == ("delivery: EMAIL via smtp://mx.example:2525 (starttls); "
                           "SMS, VOICE, PUSH held in the outbox (no channel configured)")
    assert list(build_channels(s)) == ["EMAIL"]


@pytest.mark.parametrize(("env", "problem"), [
    ({"AUTHCORE_SMTP_URL": "smtp://mx.example"}, "AUTHCORE_SMTP_FROM"),
    ({"AUTHCORE_SMS_WEBHOOK_URL": "https://sms.example"}, "AUTHCORE_WEBHOOK_SECRET"),
    ({"AUTHCORE_DELIVERY_POLL_SECONDS": "0"}, "DELIVERY_POLL_SECONDS"),
    ({"AUTHCORE_DELIVERY_MAX_ATTEMPTS": "0"}, "MAX_ATTEMPTS"),
    ({"AUTHCORE_DELIVERY_TEMPLATES_DIR": "/nonexistent/templates"}, "not a directory"),
])
def test_settings_that_cannot_work_are_refused(env: dict[str, str], problem: str) -> None:
    with pytest.raises(SystemExit, match=problem):
        settings(**env).check()


def test_a_bad_smtp_url_stops_the_start_without_the_password() -> None:
    s = settings(AUTHCORE_SMTP_URL="smtp://u:hunter2@mx.example?tls=on",
                 AUTHCORE_SMTP_FROM="a@b.c")
    for call in (build_channels, describe):
        with pytest.raises(SystemExit) as caught:
            call(s)
        assert "AUTHCORE_SMTP_URL" in str(caught.value) and "hunter2" not in str(caught.value)


def test_a_broken_template_override_stops_the_start(tmp_path: Path) -> None:
    (tmp_path / "otp.subject").write_text("$nope")
    s = settings(AUTHCORE_SMTP_URL="smtp://mx.example", AUTHCORE_SMTP_FROM="a@b.c",
                 AUTHCORE_DELIVERY_TEMPLATES_DIR=str(tmp_path))
    with pytest.raises(SystemExit, match=r"otp\.subject: unknown variable \$nope"):
        build_channels(s)

"""Which channel carries which medium, from the settings.

EMAIL goes by SMTP when AUTHCORE_SMTP_URL is set; SMS and VOICE go to
AUTHCORE_SMS_WEBHOOK_URL, PUSH to AUTHCORE_PUSH_WEBHOOK_URL (both signed with
AUTHCORE_WEBHOOK_SECRET). A medium without a channel keeps its messages
`held` in the outbox. The channels' modules are imported only when
configured: the supervisor of `serve --workers N` calls `describe` and stays
small.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from authcore.config import Settings
from authcore.delivery.channels import EMAIL, PUSH, SMS, VOICE, Channel

MEDIA = (EMAIL, SMS, VOICE, PUSH)


def _webhook_where(url: str) -> str:
    # As delivery/webhook.public_url: no userinfo, query or fragment.
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


def build_channels(settings: Settings) -> dict[str, Channel]:
    """One channel per configured medium (SMS and VOICE share one).
    SystemExit, naming the setting but no secret, when one is malformed."""
    d = settings.delivery
    channels: dict[str, Channel] = {}
    if d.smtp_url:
        from authcore.delivery.render import TemplateError, Templates
        from authcore.delivery.smtp import SmtpChannel

        try:
            templates = Templates(d.templates_dir)
        except TemplateError as exc:
            raise SystemExit(f"AUTHCORE_DELIVERY_TEMPLATES_DIR: {exc}") from None
        try:
            channels[EMAIL] = SmtpChannel(url=d.smtp_url, sender=d.smtp_from or "",
                                          timeout=d.smtp_timeout_seconds, templates=templates)
        except ValueError as exc:
            raise SystemExit(f"AUTHCORE_SMTP_URL {exc}") from None
    for name, url, media, label in (
            ("AUTHCORE_SMS_WEBHOOK_URL", d.sms_webhook_url, (SMS, VOICE), "sms"),
            ("AUTHCORE_PUSH_WEBHOOK_URL", d.push_webhook_url, (PUSH,), "push")):
        if not url:
            continue
        from authcore.delivery.webhook import WebhookChannel

        try:
            hook = WebhookChannel(url=url, secret=d.webhook_secret or "",
                                  timeout=d.webhook_timeout_seconds, label=label)
        except ValueError as exc:
            raise SystemExit(f"{name}: {exc}") from None
        for medium in media:
            channels[medium] = hook
    return channels


def describe(settings: Settings) -> str:
    """The one start-up line saying where messages go; no password, no
    secret, no URL query."""
    d = settings.delivery
    routes: list[tuple[tuple[str, ...], str]] = []
    if d.smtp_url:
        from authcore.delivery.smtp import parse_smtp_url

        try:
            routes.append(((EMAIL,), parse_smtp_url(d.smtp_url).describe()))
        except ValueError as exc:
            raise SystemExit(f"AUTHCORE_SMTP_URL {exc}") from None
    if d.sms_webhook_url:
        routes.append(((SMS, VOICE), f"sms webhook {_webhook_where(d.sms_webhook_url)}"))
    if d.push_webhook_url:
        routes.append(((PUSH,), f"push webhook {_webhook_where(d.push_webhook_url)}"))
    routed = {m for media, _ in routes for m in media}
    held = [m for m in MEDIA if m not in routed]
    parts = [f"{', '.join(media)} via {where}" for media, where in routes]
    if held:
        parts.append(f"{', '.join(held)} held in the outbox (no channel configured)")
    return "delivery: " + "; ".join(parts)

"""Email bodies from templates: a subject, a plain-text and an HTML body per
message kind (delivery/templates/<kind>.subject, .txt, .html).

Templates are `string.Template`s: `$code`, `$minutes`, `$link` come from the
message's values, `$application` is the application's name. In the HTML
body every value is HTML-escaped (an application named `<b>Acme</b>` shows
as text, never as markup); the subject is folded to one line. A directory
(AUTHCORE_DELIVERY_TEMPLATES_DIR) may replace any of the files; each one
there wins over the built-in one of that name. All templates are loaded and
tried once at start-up, so a typo in an override (`$cdoe`) stops the server
with its file name instead of failing every message later.
"""

from __future__ import annotations

import html
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from authcore.delivery.channels import KIND_EMAIL_VERIFICATION, KIND_MAGIC_LINK, KIND_OTP

PARTS = ("subject", "txt", "html")

# What each kind's templates may use (and what the start-up check fills in).
VARIABLES: dict[str, tuple[str, ...]] = {
    KIND_OTP: ("application", "code", "minutes"),
    KIND_EMAIL_VERIFICATION: ("application", "code", "minutes"),
    KIND_MAGIC_LINK: ("application", "link", "minutes"),
}


class TemplateError(Exception):
    """A template that can't render: unknown kind, unknown or missing
    variable. The message names the file, never a value."""


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str = field(repr=False)
    html: str = field(repr=False)


def _builtin(name: str) -> str:
    return resources.files("authcore.delivery").joinpath("templates", name).read_text("utf-8")


def _one_line(text: str) -> str:
    # A header can't hold a line break (and one would let a value inject
    # headers); runs of whitespace become one space.
    return " ".join(text.split())


class Templates:
    def __init__(self, directory: Path | None = None) -> None:
        self._templates: dict[tuple[str, str], tuple[str, string.Template]] = {}
        for kind in VARIABLES:
            for part in PARTS:
                name = f"{kind}.{part}"
                override = directory / name if directory is not None else None
                if override is not None and override.is_file():
                    source, text = str(override), override.read_text("utf-8")
                else:
                    source, text = f"built-in {name}", _builtin(name)
                self._templates[kind, part] = (source, string.Template(text))
        self._check()

    def _check(self) -> None:
        for (kind, _part), (source, template) in self._templates.items():
            sample = dict.fromkeys(VARIABLES[kind], "x")
            try:
                template.substitute(sample)
            except KeyError as exc:
                raise TemplateError(f"{source}: unknown variable ${exc.args[0]} (known: "
                                    f"{', '.join('$' + v for v in VARIABLES[kind])})") from None
            except ValueError as exc:
                raise TemplateError(f"{source}: {exc}") from None

    def render(self, kind: str, *, application: str, values: Mapping[str, str]) -> Rendered:
        if kind not in VARIABLES:
            raise TemplateError(f"no email template for messages of kind {kind!r}")
        plain = {**values, "application": application}
        escaped = {k: html.escape(v, quote=True) for k, v in plain.items()}
        try:
            return Rendered(
                subject=_one_line(self._templates[kind, "subject"][1].substitute(plain)),
                text=self._templates[kind, "txt"][1].substitute(plain),
                html=self._templates[kind, "html"][1].substitute(escaped))
        except KeyError as exc:
            raise TemplateError(f"the {kind} message has no value for "
                                f"${exc.args[0]}") from None

"""Email templates (delivery/render.py): one per kind, naming the
application, HTML-escaped, overridable file by file, checked at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from authcore.delivery.render import TemplateError, Templates

VALUES = {"code": "424242", "minutes": "5"}


@pytest.mark.parametrize("kind", ["otp", "email_verification"])
def test_every_code_template_names_the_application_and_carries_the_code(kind: str) -> None:
    out = Templates().render(kind, application="Acme", values=VALUES)
    for part in (out.text, out.html):
        assert "Acme" in part and "424242" in part and "5 minutes" in part
    assert "Acme" in out.subject and "424242" not in out.subject


def test_the_magic_link_template_links() -> None:
    out = Templates().render("magic_link", application="Acme",
                             values={"link": "https://a.example/m?t=1&u=2", "minutes": "15"})
    assert "https://a.example/m?t=1&u=2" in out.text
    assert 'href="https://a.example/m?t=1&amp;u=2"' in out.html


def test_values_are_escaped_in_html_only() -> None:
    name = '<b>Acme</b> & "Sons"'
    out = Templates().render("otp", application=name, values=VALUES)
    assert "&lt;b&gt;Acme&lt;/b&gt; &amp; &quot;Sons&quot;" in out.html
    assert "<b>Acme" not in out.html
    assert name in out.text and name in out.subject


def test_the_subject_is_one_line() -> None:
    out = Templates().render("otp", application="Acme\r\nBcc: victim@example.com",
                             values=VALUES)
    assert "\n" not in out.subject and "\r" not in out.subject


def test_a_directory_overrides_single_files(tmp_path: Path) -> None:
    (tmp_path / "otp.txt").write_text("$application code: $code\n")
    templates = Templates(tmp_path)
    out = templates.render("otp", application="Acme", values=VALUES)
    assert out.text == "Acme code: 424242\n"
    assert "<html>" in out.html  # the built-in one


def test_an_unknown_variable_in_an_override_is_refused_with_its_file(tmp_path: Path) -> None:
    (tmp_path / "email_verification.html").write_text("<p>$cdoe</p>")
    with pytest.raises(TemplateError, match=r"email_verification\.html: unknown variable "
                                            r"\$cdoe"):
        Templates(tmp_path)


def test_a_missing_value_or_kind_is_a_template_error() -> None:
    with pytest.raises(TemplateError, match=r"\$code"):
        Templates().render("otp", application="Acme", values={"minutes": "5"})
    with pytest.raises(TemplateError, match="push"):
        Templates().render("push", application="Acme", values={})

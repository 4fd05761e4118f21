"""The message catalogues against the pages: every marked message translated, every .mo as its .po,
and no unmarked English words on a translated page.

Extraction runs Babel exactly as docs/translations.md tells a maintainer to (babel.cfg), so a
message added to a translated page fails here until the shipped catalogues translate it; the
failure names the messages and the commands. Babel is a test dependency (the server reads the
compiled catalogues with the standard library): without it these skip, except under CI=true.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from bastion.web.i18n import DEFAULT_LANGUAGE, LANGUAGES, LOCALE_DIR, TRANSLATED_PAGES
from environment import IN_CI

ROOT = Path(__file__).resolve().parents[2]
UPDATE = "docs/translations.md: `pybabel extract …` then `pybabel update …`, translate, `pybabel compile …`"
SHIPPED = [language for language in LANGUAGES if language != DEFAULT_LANGUAGE]


@pytest.fixture(scope="module")
def babel():
    try:
        from babel.messages import frontend, mofile, pofile
    except ImportError:
        reason = "Babel is not installed (pip install '.[test]')"
        if IN_CI:
            pytest.fail(f"CI must check the catalogues: {reason}")
        pytest.skip(reason)
    return frontend, pofile, mofile


@pytest.fixture(scope="module")
def extracted(babel, tmp_path_factory):
    """The messages of the translated pages, extracted now by the documented command."""
    frontend, pofile, _ = babel
    out = tmp_path_factory.mktemp("i18n") / "messages.pot"
    args = ["pybabel", "-q", "extract", "-F", str(ROOT / "babel.cfg"), "-o", str(out), str(ROOT / "src")]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        frontend.CommandLineInterface().run(args)
    with open(out, "rb") as fh:
        return pofile.read_po(fh)


def _catalogue(babel, language: str):
    _, pofile, _ = babel
    with open(LOCALE_DIR / language / "LC_MESSAGES" / "messages.po", "rb") as fh:
        return pofile.read_po(fh)


def test_extraction_finds_the_pages_messages(extracted):
    ids = {m.id for m in extracted if m.id}
    assert {"Sign out", "Start labelling", "Which response is better?", "wrong e-mail or password"} <= ids


@pytest.mark.parametrize("language", SHIPPED)
def test_every_marked_message_is_translated(babel, extracted, language):
    catalogue = _catalogue(babel, language)
    untranslated = []
    for message in extracted:
        if not message.id:
            continue
        found = catalogue.get(message.id)
        strings = (
            found.string if found is not None and isinstance(found.string, tuple) else (getattr(found, "string", ""),)
        )
        if found is None or found.fuzzy or not all(strings):
            untranslated.append(message.id)
    assert not untranslated, f"{len(untranslated)} messages not translated in {language} ({UPDATE}): {untranslated}"
    problems = [(message.id, str(error)) for message, errors in catalogue.check() for error in errors]
    assert not problems, f"translations whose placeholders differ from their message: {problems}"


@pytest.mark.parametrize("language", SHIPPED)
def test_the_compiled_catalogue_is_its_po(babel, language):
    _, _, mofile = babel
    with open(LOCALE_DIR / language / "LC_MESSAGES" / "messages.mo", "rb") as fh:
        compiled = mofile.read_mo(fh)

    def table(catalogue):  # a plural's id and strings: a tuple from a .po, a list from a .mo
        def key(value):
            return tuple(value) if isinstance(value, list | tuple) else value

        return {key(m.id): key(m.string) for m in catalogue if m.id and not m.fuzzy and m.string}

    source = _catalogue(babel, language)
    assert table(compiled) == table(source), f"messages.mo is not compiled from messages.po ({UPDATE})"
    assert compiled.plural_forms == source.plural_forms


# -- no unmarked English on a translated page -------------------------------------------------------------------

# Words a page shows as they are in every language (the product's name).
AS_IS = {"Bastion"}
TEXT_ATTRIBUTES = ("aria-label", "title", "placeholder", "alt")


def _translated_templates() -> dict[str, str]:
    """The translated pages' templates, with what they extend and include, and every built-in widget."""
    from jinja2 import meta

    import bastion
    from bastion.tasktypes import installed
    from bastion.web.pages.common import TEMPLATE_DIR, templates

    env = templates.env

    names, todo = set(), list(TRANSLATED_PAGES)
    while todo:
        name = todo.pop()
        if name in names:
            continue
        names.add(name)
        source = (TEMPLATE_DIR / name).read_text()
        todo += [n for n in meta.find_referenced_templates(env.parse(source)) if n]  # None: a computed name
    found = {name: (TEMPLATE_DIR / name).read_text() for name in names}
    package = Path(bastion.__file__).resolve().parent  # src/bastion here, site-packages/bastion where installed
    for task_type in installed():
        widget = (Path(task_type.template_dir) / "widget.html").resolve()
        if widget.is_relative_to(package):
            found[str(widget.relative_to(package.parent))] = widget.read_text()
    return found


def _unmarked_words(source: str) -> list[str]:
    """English left outside {% trans %} and _(): words of two letters or more in text or a text attribute."""
    text = re.sub(r"{#.*?#}", " ", source, flags=re.S)
    text = re.sub(r"{%-?\s*trans\b.*?{%-?\s*endtrans\s*-?%}", " ", text, flags=re.S)
    text = re.sub(r"{{.*?}}|{%.*?%}", " ", text, flags=re.S)
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.S)
    words = []
    for attribute in TEXT_ATTRIBUTES:
        for value in re.findall(rf'\s{attribute}="([^"]*)"', text):
            words += re.findall(r"[A-Za-z]{2,}", value)
    text = re.sub(r"<[^>]*>", " ", text)
    words += re.findall(r"[A-Za-z]{2,}", text)
    return [w for w in words if w not in AS_IS]


def test_the_unmarked_words_check_finds_unmarked_words():
    assert _unmarked_words('<p title="Hello">Skip <kbd>S</kbd> {{ _("Done") }} {% trans %}Go{% endtrans %}</p>') == [
        "Hello",
        "Skip",
    ]


def test_translated_pages_show_no_unmarked_english():
    found = {name: words for name, source in _translated_templates().items() if (words := _unmarked_words(source))}
    assert len(_translated_templates()) >= len(TRANSLATED_PAGES) + 8  # base.html and the seven widgets too
    assert not found, (
        "words on a translated page that no catalogue can translate: wrap them in {% trans %}…{% endtrans %} or "
        f"_('…'), then update the catalogues ({UPDATE}): {found}"
    )

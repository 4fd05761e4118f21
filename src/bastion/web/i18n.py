"""Translations of the annotator-facing pages: gettext catalogues and the language of a request.

Concept: the pages annotators read — the header, sign-in, the start page, labelling with every
task type's widget and their progress, their own annotations and the page changing one, the error
and first-access pages (``TRANSLATED_PAGES``) — mark their words
with jinja2's i18n extension (``{% trans %}…{% endtrans %}``, ``_("…")``); the page modules mark
the few messages they pass to those pages with ``N_("…")``. Babel extracts them
(``babel.cfg``) into ``locale/messages.pot``; each shipped language has a catalogue
``locale/<lang>/LC_MESSAGES/messages.po``, translated by people, and its compiled
``messages.mo`` committed beside it. docs/translations.md has the commands; a test fails when a
marked message has no translation, or when a ``.mo`` disagrees with its ``.po``.

The language of a page: the person's ``Accept-Language``, its best match among ``LANGUAGES``,
else English. The other pages (a data lead's: project set-up, the data browser, quality,
review, questions, walls, approvals, people) are English throughout, ``<html lang="en">`` included, rather
than half translated.

Design choice: compiled catalogues are read with the standard library's gettext, once per
language, on the first page in that language — never at import, so the CLI and the API do not
pay for them, and Babel is needed only to extract and compile (a test dependency), not to serve.

The trap: ``_()`` of newstyle gettext marks its result safe (a translation is trusted markup)
and treats it as a %-format string. Pass it literals only, never a variable holding text from a
person or from the data: use ``translate()`` in Python (a plain string, escaped when shown).
"""

from __future__ import annotations

import gettext
from functools import cache
from pathlib import Path

from fastapi import Request

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"
DEFAULT_LANGUAGE = "en"
LANGUAGES = ("en", "de")  # the messages are written in English; each other language ships a catalogue
TRANSLATED_PAGES = frozenset(
    {
        "login.html",
        "home.html",
        "label.html",
        "_task.html",
        "_progress.html",
        "mine.html",  # the annotator's own annotations and questions
        "edit.html",  # changing one of them
        "guidelines.html",  # the project's guidelines (writing them is English: guidelines_edit.html)
        "guidelines_diff.html",
        "error.html",
        "first_access.html",
    }
)
_MAX_RANGES = 40  # an Accept-Language header is short; a long one is read this far and no further


def N_(message: str) -> str:  # noqa: N802  (gettext's name for "mark for extraction, translate later")
    """Mark a message for extraction; it is translated where it is shown (``translate``)."""
    return message


def translations(language: str) -> gettext.NullTranslations:
    """The catalogue of ``language``; English (the messages themselves) for any language not shipped."""
    return _catalogue(language if language in LANGUAGES else DEFAULT_LANGUAGE)


@cache
def _catalogue(language: str) -> gettext.NullTranslations:
    """Read once per shipped language."""
    if language == DEFAULT_LANGUAGE:
        return gettext.NullTranslations()
    with open(LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.mo", "rb") as fh:
        return gettext.GNUTranslations(fh)


def negotiate(accept_language: str | None) -> str:
    """The best of ``LANGUAGES`` for an ``Accept-Language`` header (RFC 9110 §12.5.4), or English.

    A range matches a language by its primary subtag (``de-AT`` → ``de``); ``*`` matches the
    default; ranges with ``q=0`` are refused; ties keep the header's order.
    """
    if not accept_language:
        return DEFAULT_LANGUAGE
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")[:_MAX_RANGES]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        name, sep, value = params.strip().partition("=")
        if sep and name.strip().lower() == "q":
            try:
                quality = float(value)
            except ValueError:
                continue
        if quality <= 0:
            continue
        primary = tag.strip().lower().split("-")[0]
        if primary == "*":
            primary = DEFAULT_LANGUAGE
        if primary in LANGUAGES:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else DEFAULT_LANGUAGE


def language_of(request: Request) -> str:
    """The request's language (negotiated once per request)."""
    language = getattr(request.state, "language", None)
    if language is None:
        language = negotiate(request.headers.get("accept-language"))
        request.state.language = language
    return language


def page_language(request: Request, template: str) -> str:
    """The language ``template`` is shown in: the request's for a translated page, English for the others."""
    return language_of(request) if template in TRANSLATED_PAGES else DEFAULT_LANGUAGE


def translate(request: Request, message: str) -> str:
    """``message`` in the request's language (a plain string: the template escapes it)."""
    return translations(language_of(request)).gettext(message)

"""The language of a page: Accept-Language against the shipped catalogues (web/i18n.py)."""

from __future__ import annotations

import pytest

from bastion.web.i18n import LANGUAGES, negotiate, translations


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "en"),
        ("", "en"),
        ("de", "de"),
        ("de-AT", "de"),
        ("DE-ch;q=0.9", "de"),
        ("fr-FR, fr;q=0.9, de;q=0.8, en;q=0.7", "de"),  # French is not shipped: the next best is
        ("en-GB, de;q=0.9", "en"),
        ("de;q=0.5, en;q=0.9", "en"),
        ("de;q=0, en", "en"),  # q=0: "not this one"
        ("de;q=0", "en"),
        ("fr, *;q=0.5", "en"),
        ("de, en", "de"),  # equal weights: the header's order
        ("de;q=abc, en", "en"),  # a malformed weight drops its range, not the header
        ("x" * 5000, "en"),
        (",,;;==", "en"),
        ("fr," * 1000 + "de", "en"),  # read for its first ranges only
    ],
)
def test_negotiate(header, language):
    assert negotiate(header) == language


def test_every_shipped_language_has_a_catalogue_and_english_is_the_messages_themselves():
    assert translations("en").gettext("Sign out") == "Sign out"
    for language in LANGUAGES:
        if language != "en":
            catalogue = translations(language)
            assert catalogue.gettext("Sign out") != "Sign out", language
            assert catalogue.info()["language"] == language

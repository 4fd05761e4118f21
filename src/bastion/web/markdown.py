"""Markdown for untrusted text (instructions, conversation turns): rendered safely.

CommonMark with raw HTML disabled (``<script>`` and friends come out as text),
markdown-it's link validation (no ``javascript:``, ``vbscript:``, ``file:`` or
non-image ``data:`` URLs), and links forced to ``rel="noopener noreferrer nofollow"``.
The page's Content-Security-Policy is the second wall: no inline script runs
even if something slipped through.
"""

from __future__ import annotations

from markdown_it import MarkdownIt
from markupsafe import Markup

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})


def _link_open(renderer, tokens, idx, options, env):
    tokens[idx].attrSet("rel", "noopener noreferrer nofollow")
    tokens[idx].attrSet("target", "_blank")
    return renderer.renderToken(tokens, idx, options, env)


_md.add_render_rule("link_open", _link_open)


def render_markdown(text: str | None, shift: int = 0) -> Markup:
    """``text`` as HTML; ``shift``: headings go that many levels down (a document's ``#`` under a page's own
    ``h1`` becomes ``h2`` with 1), never below ``h6``."""
    if not text:
        return Markup("")
    if not shift:
        return Markup(_md.render(text))
    env: dict = {}
    tokens = _md.parse(text, env)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + shift, 6)}"
    return Markup(_md.renderer.render(tokens, _md.options, env))

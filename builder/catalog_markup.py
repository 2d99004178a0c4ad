"""What the catalog's templates write with: the jinja2 environment of ``site/`` and its filters — code
highlighting (JSON tokenized here, other languages through Pygments), Markdown-safe text,
anchors and contact links. Every value from the repository is text, escaped on the way in."""
from __future__ import annotations

import posixpath
import re
from functools import lru_cache
from typing import Any

import jinja2
from markupsafe import Markup, escape

from builder.catalog_model import FORMAT_LABELS
from builder.site_paths import domain_page, raw_path, site_href, subject_page
from registry.bundled import CATALOG_SITE


def anchor(text: str) -> str:
    """An HTML id fragment for a tag or owner name (lower case, unsafe characters as ``-``)."""
    return re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-") or "x"


# ----------------------------------------------------------------------------------------- filters

@lru_cache(maxsize=4096)
def _lexer(language: str):
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound
    try:
        return get_lexer_by_name(language, stripnl=False)
    except ClassNotFound:
        return get_lexer_by_name("text", stripnl=False)


_FORMATTER = None
_JSON_TOKEN = re.compile(r'("(?:[^"\\]|\\.)*")(\s*)(:)?|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|\b(true|false|null)\b|([{}\[\],:])')


def _text(value: str) -> str:
    """Text-node escaping (quotes need none): keeps highlighted schemas small."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def text_node(value: str) -> Markup:
    """A text node's content (a schema text in ``<pre>``): escaped as markup needs, quotes left as they
    are (a third of an Avro schema's escapes)."""
    return Markup(_text(str(value)))


def _json_spans(text: str) -> str:
    """JSON in Pygments' token classes (keys ``nt``, strings ``s2``, numbers ``mi``, ``kc``, ``p``).

    One regular expression pass instead of Pygments' lexer: JSON is most of what a catalog shows
    (Avro, JSON Schema, examples), and this is an order of magnitude faster at 10,000 subjects.
    Anything that is not a token (whitespace, invalid input) is kept as escaped text."""
    out: list[str] = []
    pos = 0
    for match in _JSON_TOKEN.finditer(text):
        out.append(_text(text[pos:match.start()]))
        string, space, colon, number, constant, punct = match.groups()
        if string is not None:
            out.append(f'<span class="{"nt" if colon else "s2"}">{_text(string)}</span>{space}')
            if colon:
                out.append('<span class="p">:</span>')
        elif number is not None:
            out.append(f'<span class="mi">{number}</span>')
        elif constant is not None:
            out.append(f'<span class="kc">{constant}</span>')
        else:
            out.append(f'<span class="p">{_text(punct)}</span>')
        pos = match.end()
    out.append(_text(text[pos:]))
    return "".join(out)


def highlight(text: str, language: str) -> Markup:
    """Highlighted code in the markup pymdownx.highlight writes, so the theme styles it and adds copy
    buttons (examples on subject pages). JSON is tokenized here; other languages go through Pygments."""
    global _FORMATTER
    if language == "json":
        body = _json_spans(text)
    else:
        from pygments import highlight as pyg_highlight
        from pygments.formatters import HtmlFormatter
        if _FORMATTER is None:
            _FORMATTER = HtmlFormatter(nowrap=True)
        body = pyg_highlight(text, _lexer(language), _FORMATTER)
    return Markup(f'<div class="language-{language} highlight"><pre><span></span><code>{body}</code></pre></div>')


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#+!|])")


def md_inline(text: Any) -> Markup:
    """Text for a Markdown line (a heading): HTML-escaped and Markdown-escaped."""
    return Markup(_MD_SPECIAL.sub(r"\\\1", str(escape(text))))


_SCRIPT_LINK = re.compile(r"\]\(\s*(?:javascript|vbscript|data):", re.IGNORECASE)


def md_block(text: Any) -> Markup:
    """A user's description as Markdown: HTML-escaped so that it cannot inject markup, and with script
    URLs in Markdown links disarmed (a description is repository content, shown to every reader)."""
    return Markup(_SCRIPT_LINK.sub("](#", str(escape(str(text).strip()))))


def break_dots(text: Any) -> Markup:
    """A dotted type name that may wrap after its dots (``llm.metrics.<wbr>Provider``), nowhere else."""
    return Markup(str(escape(text)).replace(".", ".<wbr>"))


def first_line(text: Any) -> str:
    return str(text or "").strip().split("\n", 1)[0]


def contact_href(contact: str) -> str:
    """A link for a consumer's contact: URLs and e-mail addresses; empty for a chat channel or name."""
    if contact.startswith(("http://", "https://", "mailto:")):
        return contact
    if re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", contact):
        return "mailto:" + contact
    return ""


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The templates of ``site/``, autoescaped: every value from the repository is text, not markup."""
    # No auto_reload: templates do not change during a build, and checking their mtimes on every
    # `import … with context` (each subject page) was a tenth of a large build.
    env = jinja2.Environment(loader=jinja2.FileSystemLoader([str(CATALOG_SITE / "templates"), str(CATALOG_SITE)]),
                             autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             auto_reload=False)
    env.filters.update(highlight=highlight, text_node=text_node, md=md_inline, md_block=md_block, break_dots=break_dots,
                       first_line=first_line, anchor=anchor, contact_href=contact_href,
                       format_label=lambda t: FORMAT_LABELS.get(t, t))
    return env


# --------------------------------------------------------------------------------------------- links

@lru_cache(maxsize=4096)
def _relative_dir(folder: str, start: str) -> str:
    """``relpath`` of a folder, cached: pages link to a few folders, a 10,000-subject build 100,000 times."""
    return "" if folder == start else posixpath.relpath(folder or ".", start or ".")


class Links:
    """Relative URLs from one page to the others, for HTML written in templates.

    Every page is built with ``use_directory_urls: false`` so that ``x.md`` is ``x.html`` both on a
    web server and from ``file://``, and relative links are the same in both builds.
    """

    def __init__(self, page: str) -> None:
        self.page_path = page
        self._dir = posixpath.dirname(page)
        self._tab_group = 0

    def _rel(self, target: str) -> str:
        folder, name = posixpath.split(target)
        return posixpath.join(_relative_dir(folder, self._dir), name)

    def md(self, target: str) -> str:
        """A Markdown link target (MkDocs resolves and validates ``.md`` links itself)."""
        return self._rel(target)

    def page(self, target_md: str) -> str:
        return site_href(self._rel(target_md[:-3] + ".html"))

    def page_file(self, target: str) -> str:
        return site_href(self._rel(target))

    def subject(self, name: str, version: int | None = None) -> str:
        url = self.page(subject_page(name))
        return f"{url}#v{version}" if version else url

    def domain(self, name: str) -> str:
        return self.page(domain_page(name))

    def tag(self, tag: str) -> str:
        return f"{self.page('tags.md')}#tag-{anchor(tag)}"

    def owner(self, owner: str) -> str:
        return f"{self.page('owners.md')}#owner-{anchor(owner)}"

    def raw(self, name: str, version: int, extension: str) -> str:
        return site_href(self._rel(raw_path(name, version, extension)))

    def raw_path(self, name: str, version: int, extension: str) -> str:
        """The raw file's path from the site root (shown as its stable URL)."""
        return site_href(raw_path(name, version, extension))

    def next_tab_group(self) -> int:
        self._tab_group += 1
        return self._tab_group

"""HTML to readable text with the standard library's parser.

Scripts, styles and other non-content elements are dropped; block elements become line
breaks, headings get ``#`` marks, list items ``- ``, links keep their target in
parentheses (resolved against the page URL), ``<pre>`` keeps its whitespace, and runs of
blank lines collapse to one.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin

_SKIP = frozenset({"script", "style", "noscript", "template", "svg", "head", "iframe", "object"})
_BLOCK = frozenset(
    {
        "p", "div", "section", "article", "header", "footer", "nav", "main", "aside",
        "ul", "ol", "table", "tr", "blockquote", "form", "figure", "figcaption", "dl",
        "dt", "dd", "br", "hr", "pre", "details", "summary",
    }
)  # fmt: skip
_HEADINGS = {f"h{n}": n for n in range(1, 7)}


class _TextParser(HTMLParser):
    def __init__(self, base_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base_url = base_url
        self.parts: list[str] = []
        self.skip_depth = 0
        self.pre_depth = 0
        self.title: str | None = None
        self.in_title = False
        self.href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self.in_title = True
        if tag in _SKIP:
            self.skip_depth += 1
            return
        if tag in _BLOCK or tag in _HEADINGS or tag == "li":
            self.parts.append("\n")
        if tag in _HEADINGS:
            self.parts.append("#" * _HEADINGS[tag] + " ")
        elif tag == "li":
            self.parts.append("- ")
        elif tag in ("td", "th"):
            self.parts.append(" | ")
        elif tag == "pre":
            self.pre_depth += 1
        elif tag == "a":
            href = dict(attrs).get("href")
            ok = href and not href.startswith(("#", "javascript:", "mailto:"))
            self.href = urljoin(self.base_url, href) if ok and href else None

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        if tag in _SKIP:
            self.skip_depth = max(0, self.skip_depth - 1)
            return
        if tag == "pre":
            self.pre_depth = max(0, self.pre_depth - 1)
        if tag == "a" and self.href:
            self.parts.append(f" ({self.href})")
            self.href = None
        if tag in _BLOCK or tag in _HEADINGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self.in_title and self.title is None:
            self.title = " ".join(data.split())
        if self.skip_depth:
            return
        self.parts.append(data if self.pre_depth else re.sub(r"\s+", " ", data))


def _tidy(line: str) -> str:
    line = line.rstrip()
    return line[1:] if line.startswith(" ") and not line.startswith("  ") else line


def html_to_text(html: str, base_url: str = "") -> str:
    parser = _TextParser(base_url)
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    # Outside <pre> whitespace is collapsed to single spaces, so a line starting with
    # exactly one space only carries collapse residue; deeper indentation is <pre>'s.
    lines = [_tidy(line) for line in text.split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    if parser.title:
        text = text if text.startswith(f"# {parser.title}") else f"# {parser.title}\n\n{text}"
    return text

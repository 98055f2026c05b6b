"""HTML to readable text, parsed by ``selectolax`` (the Lexbor HTML5 parser).

Lexbor parses in time linear in the input, as browsers do (the standard library's
``HTMLParser`` is quadratic on inputs such as 2 MB of ``</``), and the walk over the
tree is iterative, so no page can hold the event loop or blow the stack; ``web_fetch``
still runs the conversion in a worker thread.

Scripts, styles and other non-content elements are dropped; block elements become line
breaks, headings get ``#`` marks, list items ``- ``, links keep their target in
parentheses (resolved against the page URL), ``<pre>`` keeps its whitespace, and runs of
blank lines collapse to one.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser, LexborNode

_SKIP = frozenset({"script", "style", "noscript", "template", "svg", "head", "iframe", "object"})
_BLOCK = frozenset(
    {
        "p", "div", "section", "article", "header", "footer", "nav", "main", "aside",
        "ul", "ol", "table", "tr", "blockquote", "form", "figure", "figcaption", "dl",
        "dt", "dd", "br", "hr", "pre", "details", "summary",
    }
)  # fmt: skip
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_SPACE = re.compile(r"\s+")


class _Text:
    """The text of a parsed document, built by one walk over its nodes."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.parts: list[str] = []
        self.pre_depth = 0
        self.hrefs: list[str | None] = []

    def start(self, tag: str, node: LexborNode) -> None:
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
            href = node.attributes.get("href")
            ok = href and not href.startswith(("#", "javascript:", "mailto:"))
            self.hrefs.append(urljoin(self.base_url, href) if ok and href else None)

    def end(self, tag: str) -> None:
        if tag == "pre":
            self.pre_depth = max(0, self.pre_depth - 1)
        if tag == "a" and self.hrefs and (href := self.hrefs.pop()):
            self.parts.append(f" ({href})")
        if tag in _BLOCK or tag in _HEADINGS:
            self.parts.append("\n")

    def data(self, text: str) -> None:
        self.parts.append(text if self.pre_depth else _SPACE.sub(" ", text))

    def walk(self, root: LexborNode) -> None:
        """Depth first without recursion (nesting depth is the page's to choose)."""
        stack: list[tuple[LexborNode, bool]] = [(root, False)]
        while stack:
            node, done = stack.pop()
            tag = (node.tag or "").lower()
            if done:
                self.end(tag)
                continue
            if tag == "-text":
                self.data(node.text_content or "")
                continue
            if tag in _SKIP or tag.startswith("-"):  # comments, doctype
                continue
            self.start(tag, node)
            stack.append((node, True))
            children: list[LexborNode] = []
            child = node.child
            while child is not None:
                children.append(child)
                child = child.next
            stack.extend((c, False) for c in reversed(children))


def _tidy(line: str) -> str:
    line = line.rstrip()
    return line[1:] if line.startswith(" ") and not line.startswith("  ") else line


def html_to_text(html: str, base_url: str = "") -> str:
    document = LexborHTMLParser(html)
    title_node = document.css_first("title")
    title = " ".join((title_node.text() or "").split()) if title_node is not None else ""
    collector = _Text(base_url)
    if document.body is not None:
        collector.walk(document.body)
    text = "".join(collector.parts)
    # Outside <pre> whitespace is collapsed to single spaces, so a line starting with
    # exactly one space only carries collapse residue; deeper indentation is <pre>'s.
    lines = [_tidy(line) for line in text.split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    if title:
        text = text if text.startswith(f"# {title}") else f"# {title}\n\n{text}"
    return text

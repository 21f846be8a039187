"""HTML to text lines, with the page furniture left out (selectolax / lexbor).

Dropped: ``script``, ``style``, ``nav``, ``header``, ``footer``, ``aside``, forms and their
controls, and any element whose ``id`` or ``class`` mentions cookie, banner, consent, nav, menu,
footer or breadcrumb. Block elements become lines, list items ``"• "`` bullets (indented two
spaces per nesting level) and table cells ``" | "``-separated columns, so the text readers see the
same shapes as in a flattened page.
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser

_DROP_TAGS = ("script", "style", "nav", "header", "footer", "aside", "form", "noscript",
              "iframe", "svg", "template", "button", "select", "input", "textarea", "dialog",
              "canvas", "object", "embed")
_FURNITURE = re.compile(r"(?i)cookie|banner|consent|nav|menu|footer|breadcrumb")
_KEEP = {"html", "body", "main", "article"}
_BLOCK = {"p", "div", "section", "article", "main", "h1", "h2", "h3", "h4", "h5", "h6", "dl",
          "dt", "dd", "blockquote", "pre", "figure", "figcaption", "address", "hr", "details",
          "summary", "fieldset", "legend", "caption", "thead", "tbody", "tfoot", "table", "body"}
_PARA = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "pre", "dl"}
_CELL = "\x1f"

_HTML_SNIFF = re.compile(r"(?is)^\s*(?:<!doctype\s+html|<html\b|<head\b|<body\b|<meta\b|<!--)"
                         r"|<(?:p|div|h[1-6]|ul|li|table|span|a|br|section|article)\b[^>]*>")


def looks_like_html(text: str) -> bool:
    head = text[:4096]
    return head.lstrip().startswith("<") and bool(_HTML_SNIFF.search(head))


def html_title(html: str) -> str | None:
    tree = LexborHTMLParser(html)
    h1 = tree.css_first("h1")
    return h1.text(strip=True) if h1 is not None else None


def html_to_text(html: str) -> str:
    """The readable text of an HTML page, one block per line, boilerplate removed."""
    tree = LexborHTMLParser(html)
    for tag in _DROP_TAGS:
        for node in tree.css(tag):
            node.decompose()
    for node in tree.css("[id], [class], [role]"):
        if node.tag in _KEEP:
            continue
        attrs = node.attributes
        marker = " ".join(v for k, v in attrs.items() if k in ("id", "class", "role") and v)
        if marker and _FURNITURE.search(marker):
            node.decompose()
    root = tree.body or tree.root
    if root is None:
        return ""
    buf: list[str] = []
    _walk(root, buf, 0)
    lines = []
    for raw in "".join(buf).split("\n"):
        line = raw
        if _CELL in line:
            cells = [re.sub(r"\s+", " ", c).strip() for c in line.split(_CELL)]
            line = " | ".join(c for c in cells if c)
        indent = len(line) - len(line.lstrip(" "))
        body = re.sub(r"[ \t\u00a0]+", " ", line).strip()
        lines.append((" " * indent if body.startswith("•") else "") + body)
    out: list[str] = []
    for line in lines:
        if not line and (not out or not out[-1]):
            continue
        out.append(line)
    return "\n".join(out).strip()


def _walk(node, buf: list[str], depth: int) -> None:
    for child in node.iter(include_text=True):
        tag = child.tag
        if tag == "-text":
            buf.append((child.text_content or "").replace("\n", " "))
        elif tag == "br":
            buf.append("\n")
        elif tag in ("ul", "ol"):
            buf.append("\n")
            _walk(child, buf, depth + 1)
            buf.append("\n")
        elif tag == "li":
            buf.append("\n" + "  " * max(depth - 1, 0) + "• ")
            _walk(child, buf, depth)
            buf.append("\n")
        elif tag == "tr":
            buf.append("\n")
            _walk(child, buf, depth)
            buf.append("\n")
        elif tag in ("td", "th"):
            buf.append(_CELL)
            _walk(child, buf, depth)
        elif tag in _BLOCK:
            buf.append("\n")
            _walk(child, buf, depth)
            buf.append("\n\n" if tag in _PARA else "\n")
        elif tag in ("-comment", "head", "title", "meta", "link"):
            continue
        else:
            _walk(child, buf, depth)

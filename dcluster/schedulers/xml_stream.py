"""The streaming XML parser every XML output goes through (Torque ``qstat -x``/``pbsnodes -x``, Grid Engine).

Safe on hostile input: no entities, no network, a root check; a garbled or
truncated document raises :class:`ParseError`, never an empty result.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from lxml import etree

from .errors import ParseError

# What is fed to (or sliced for) libxml2 at a time.  Small enough that the tree
# built from it is still in the CPU caches when Python reads it: 128 KB pieces
# parse a 50,000-job document 10-15 % faster than 1 MB ones (docs/performance.md).
CHUNK = 1 << 17


def _feed(parser: etree.XMLPullParser, data: str | bytes) -> Iterator[None]:
    """Feed ``data`` in CHUNK pieces (a str is encoded one piece at a time, never whole), then close."""
    for start in range(0, len(data), CHUNK):
        chunk = data[start : start + CHUNK]
        parser.feed(chunk.encode("utf-8") if isinstance(chunk, str) else chunk)
        yield
    parser.close()
    yield


# Characters XML 1.0 forbids in a document.  A job's name or comment may hold one (any user chooses them), and
# a scheduler that prints it unescaped makes the whole document invalid: every poll would fail on one job.
_NOT_XML_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_NOT_XML_BYTES = re.compile(b"[\x00-\x08\x0b\x0c\x0e-\x1f]|\xef\xbf[\xbe\xbf]")


def iter_xml(
    data: str | bytes, tags: str | Sequence[str], root: str | Sequence[str], command: str, allow_empty: bool = False
) -> Iterator[etree._Element]:
    """Yield each finished element named in ``tags``, streaming, freeing the tree as it goes.

    The document's root must be one of ``root``; a syntax error, a truncated
    document or another root raises :class:`ParseError` (after the elements
    already yielded: callers collect into a list before using any).  An
    element is cleared once the caller asks for the next one: keep what you
    need from it, not the element.  A character XML forbids is read as U+FFFD
    (the document parsed again, without yielding again what it yielded).
    """
    given = 0
    try:
        for elem in _iter_xml(data, tags, root, command, allow_empty):
            given += 1
            yield elem
    except _BadChar:
        if isinstance(data, bytes):
            clean: str | bytes = _NOT_XML_BYTES.sub("\ufffd".encode(), data)
        else:
            clean = _NOT_XML_TEXT.sub("\ufffd", data)
        for k, elem in enumerate(_iter_xml(clean, tags, root, command, allow_empty)):
            if k >= given:
                yield elem


class _BadChar(Exception):
    """The document holds a character XML forbids."""


def _iter_xml(
    data: str | bytes, tags: str | Sequence[str], root: str | Sequence[str], command: str, allow_empty: bool
) -> Iterator[etree._Element]:
    tags = (tags,) if isinstance(tags, str) else tuple(tags)
    roots = (root,) if isinstance(root, str) else tuple(root)
    if data is None or not has_content(data):
        if allow_empty:
            return
        raise ParseError(command, data, "empty output")
    # Start events only serve to check the root (the first one); one loop, no generator per event.
    parser = etree.XMLPullParser(
        events=("start", "end"), tag=tags + roots, huge_tree=True, resolve_entities=False, no_network=True
    )
    read_events = parser.read_events
    seen_root = False
    try:
        for _ in _feed(parser, data):
            for event, elem in read_events():
                if event == "start":
                    if not seen_root:
                        # the document's root, which need not be this element: with <html><Data>...
                        # the first start event seen here is <Data>'s
                        seen_root = True
                        top = elem.getroottree().getroot().tag
                        if top not in roots:
                            raise ParseError(command, data, f"expected a <{roots[0]}> document, got <{top}>")
                    continue
                if elem.tag not in tags:
                    continue  # the root (or an element named like it)
                yield elem
                elem.clear(keep_tail=False)
                parent = elem.getparent()
                if parent is not None:
                    while elem.getprevious() is not None:
                        del parent[0]
    except etree.XMLSyntaxError as exc:
        if "invalid Char" in str(exc) or "invalid character" in str(exc).lower():
            if (_NOT_XML_BYTES if isinstance(data, bytes) else _NOT_XML_TEXT).search(data):  # type: ignore[arg-type]
                raise _BadChar from exc
        raise ParseError(command, data, f"invalid XML ({exc})") from exc
    if not seen_root:
        raise ParseError(command, data, f"no <{roots[0]}> element")


# -- a faster path for large documents whose records are the children of the root (Torque ``qstat -x``)
#
# The streaming parser above gets every element's end event through a Python
# callback (lxml re-takes the GIL per element, not only per record): about 40 %
# of the parse of a large Torque document.  Parsing slices of whole records with
# the plain (event-less) parser avoids that.  It is used only when the result
# is provably the one iter_xml gives, and otherwise gives up (returns None) so
# that the caller runs iter_xml:
# - the document must start with an optional UTF-8/encoding-less XML declaration
#   and the bare root start tag (no attributes: no namespaces; no DOCTYPE: no
#   entities), so every slice can be parsed in the same context;
# - slices end just after a "</record>".  A cut inside a comment, CDATA section,
#   processing instruction or deeper element leaves that slice unbalanced, so
#   its parse fails and we give up; when every slice parses, they are exactly
#   the root's children, each parsed whole, and the last slice checks the root's
#   end tag and what follows it;
# - every record must be a child of the slice root and none may hold another
#   (iter_xml yields records at any depth); other children of the root, like
#   comments, are skipped by both;
# - any error, in parsing or in ``build``, gives up: iter_xml then decides,


def has_content(data: str | bytes) -> bool:
    """True when ``data`` holds something besides whitespace (without copying it)."""
    if isinstance(data, bytes):
        return re.search(rb"\S", data) is not None
    return re.search(r"\S", data) is not None


def text(elem: etree._Element, path: str, default: str = "") -> str:
    value = elem.findtext(path)
    return value.strip() if value is not None else default

"""Records of a large XML document whose records are the children of the root (Torque ``qstat -x``).

A faster path than :func:`.xml_stream.iter_xml`, used only when its result is provably the same.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

from lxml import etree

from .xml_stream import CHUNK, iter_xml

# -- a faster path for large documents whose records are the children of the root (Torque ``qstat -x``)
#
# The streaming parser (xml_stream.iter_xml) gets every element's end event through a Python
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
#   with its own error message.
_FAST_MIN = 2 * CHUNK
_DECL = (
    r"(?:<\?xml\s+version\s*=\s*(['\"])1\.0\1(?:\s+encoding\s*=\s*(['\"])[Uu][Tt][Ff]-8\2)?"
    r"(?:\s+standalone\s*=\s*(['\"])(?:yes|no)\3)?\s*\?>\s*)?"
)
_HEADS: dict[tuple[str, type], re.Pattern[Any]] = {}


def _slice_parser() -> etree.XMLParser:
    """A parser for one thread (lxml serialises the calls of a parser shared between threads).
    collect_ids=False: no xml:id index (nothing looks elements up by id); a few per cent of the parse."""
    return etree.XMLParser(huge_tree=True, resolve_entities=False, no_network=True, collect_ids=False)


def _head(root: str, kind: type) -> re.Pattern[Any]:
    key = (root, kind)
    if key not in _HEADS:
        pattern = r"\A" + _DECL + "<" + re.escape(root) + ">"
        _HEADS[key] = re.compile(pattern.encode() if kind is bytes else pattern)
    return _HEADS[key]


class _Slices:
    """Where ``data`` is cut: each slice but the last ends just after a record's end tag.

    Raises ValueError (to give up) for a document that is not plain (see above).
    """

    def __init__(self, data: str | bytes, tag: str, root: str) -> None:
        head = _head(root, type(data)).match(data)
        if head is None:
            raise ValueError("not a plain document")
        self.data = data
        self.encode = isinstance(data, str)
        end_tag: Any = f"</{tag}>" if self.encode else f"</{tag}>".encode()  # of data's type
        self.open_root = f"<{root}>".encode()
        self.close_root = f"</{root}>".encode()
        self.spans: list[tuple[int, int]] = []
        start = 0
        while True:
            cut = data.find(end_tag, max(start, head.end()) + CHUNK)
            if cut < 0:
                self.spans.append((start, len(data)))
                return
            self.spans.append((start, cut + len(end_tag)))
            start = cut + len(end_tag)

    def parse(self, k: int, parser: etree.XMLParser) -> etree._Element:
        """The root of slice ``k``, parsed (a parse error gives up)."""
        start, end = self.spans[k]
        piece: Any = self.data[start:end]
        if self.encode:
            piece = piece.encode("utf-8")
        last = k == len(self.spans) - 1  # holds the document's own end tag and what follows it
        return etree.fromstring(
            (b"" if k == 0 else self.open_root) + piece + (b"" if last else self.close_root), parser
        )


def _slice_records(
    top: etree._Element,
    tag: str,
    fields: frozenset[str],
    elements: frozenset[str],
    build: Callable[..., Any],
    out: list[Any],
) -> None:
    """Append ``build(record, 0, its fields)`` for each record of a slice; ValueError to give up.

    One lxml pass over the slice finds the records and their fields: a
    children iterator per record would cost lxml a new tag matcher each time
    (about 25,000 instructions a record, more than reading the fields).  An
    element named like a field is one of the record's only when it is the
    record's child (lxml gives the record's own proxy back as its parent);
    deeper ones are not, as with ``iterchildren``.
    """
    if top.tag == tag or top.tag in fields or top.tag in elements:
        raise ValueError("the root is named like a record or a field")
    rec = None
    kids: dict[str, Any] = {}
    for elem in top.iter(tag, *fields, *elements):
        parent = elem.getparent()
        name = elem.tag
        if parent is rec:
            if name == tag:
                raise ValueError("nested records")
            if name in fields:
                kids[name] = elem.text
            elif name not in kids:
                kids[name] = elem
        elif parent is top:
            if name != tag:
                raise ValueError(f"<{name}> among the records")
            if rec is not None:
                out.append(build(rec, 0, kids))
            rec, kids = elem, {}
        elif name == tag:
            raise ValueError("records deeper down")
    if rec is not None:
        out.append(build(rec, 0, kids))


def _record_fields(elem: etree._Element, fields: frozenset[str], elements: frozenset[str]) -> dict[str, Any]:
    """What _slice_records gives ``build`` for one record (of any document)."""
    kids: dict[str, Any] = {}
    if fields or elements:
        for c in elem.iterchildren(*fields, *elements):
            name = c.tag
            if name in fields:
                kids[name] = c.text
            elif name not in kids:
                kids[name] = c
    return kids


def _sliced_records(
    slices: _Slices,
    tag: str,
    fields: frozenset[str],
    elements: frozenset[str],
    build: Callable[..., Any],
) -> list[Any]:
    """The records of every slice, in order, read by two threads; the first error is raised.

    libxml2 parses without the GIL, so one thread parses a slice while the other reads
    the records of another.  Each thread reads only the slices it parsed itself: lxml
    reads a tree parsed on another thread at half the speed (its names are in that
    thread's dictionary).  ``build`` is given 0 for the record's number (see build_records).
    """
    found: list[list[Any] | None] = [None] * len(slices.spans)
    errors: list[BaseException] = []
    take = itertools.count()  # the next slice; next() on it is atomic under the GIL

    def work() -> None:
        parser = _slice_parser()
        try:
            while not errors:
                k = next(take)
                if k >= len(found):
                    return
                records: list[Any] = []
                _slice_records(slices.parse(k, parser), tag, fields, elements, build, records)
                found[k] = records
        except BaseException as exc:  # noqa: BLE001 - raised by the calling thread
            errors.append(exc)

    helper = None
    if len(found) > 1:
        helper = threading.Thread(target=work, name="dcluster-xml-slices", daemon=True)
        helper.start()
    work()
    if helper is not None:
        helper.join()
    if errors:
        raise errors[0]
    return [record for records in found if records is not None for record in records]


def build_records(
    data: str | bytes,
    tag: str,
    root: str,
    command: str,
    build: Callable[..., Any],
    fields: Iterable[str] = (),
    elements: Iterable[str] = (),
    allow_empty: bool = False,
) -> list[Any]:
    """``build(elem, n, kids)`` for each record of ``iter_xml(data, tag, root, command, allow_empty)``.

    ``kids`` maps the names of the record's children named in ``fields`` to
    their text (the last one of a name counts) and those named in
    ``elements`` to the element itself (the first one counts).  Large
    documents whose records are the root's children are parsed in slices (see
    above); the result, or the error raised, is always the one iter_xml gives.
    ``n``, the record's number in the document, is for error messages only:
    the slices are read two at a time, where it is not known yet, so they give
    0, and an error of ``build`` there gives up, to be raised again by the
    iter_xml path with the record's number.
    """
    fields, elements = frozenset(fields), frozenset(elements)
    if fields & elements:
        raise ValueError(f"{sorted(fields & elements)} both as text and as elements")
    if data is not None and len(data) >= _FAST_MIN:
        try:
            return _sliced_records(_Slices(data, tag, root), tag, fields, elements, build)
        except Exception:  # noqa: BLE001 - give up: iter_xml decides (and names the error)
            pass
    return [
        build(elem, n, _record_fields(elem, fields, elements))
        for n, elem in enumerate(iter_xml(data, tag, root, command, allow_empty), 1)
    ]

"""Helpers shared by the scheduler parsers and adapters (pure: no Salt, no subprocess)."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from lxml import etree

from dcluster import gcpause
from dcluster.config import Command, CommandError
from dcluster.model import NodeState

from .errors import ParseError, RefusedError, SchedulerError

log = logging.getLogger(__name__)

# run(argv, stdin=None) -> (rc, stdout, stderr)
Run = Callable[..., tuple[int, str, str]]

# Host names: DNS labels, optionally dotted.  Job ids: Torque "123", "123[4]", "123.server",
# SGE "12", "12.3" (array task), Slurm "45", "45_7".
HOST_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,62}(\.[A-Za-z0-9][A-Za-z0-9-]{0,62})*$")
JOBID_RE = re.compile(r"^[0-9]+(\[[0-9]*\])?([._][A-Za-z0-9-]+)*$")
GROUP_RE = re.compile(r"^@?[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$")
OURS = "dcluster"
DEFAULT_HOLD_REASON = "dcluster: held"
HOLD_REASON_RE = re.compile(r"^[A-Za-z0-9_.@:%=,+/ -]{1,200}$")


def check_host(name: str) -> str:
    if not isinstance(name, str) or not HOST_RE.match(name):
        raise RefusedError("(validation)", f"refusing invalid host name {name!r}")
    return name


def check_jobid(job: str) -> str:
    if not isinstance(job, str) or not JOBID_RE.match(job):
        raise RefusedError("(validation)", f"refusing invalid job id {job!r}")
    return job


def check_group(name: str) -> str:
    if not isinstance(name, str) or not GROUP_RE.match(name):
        raise RefusedError("(validation)", f"refusing invalid queue/group/account name {name!r}")
    return name


def check_reason(reason: str) -> str:
    if not isinstance(reason, str) or not HOLD_REASON_RE.match(reason):
        raise RefusedError(
            "(validation)", f"refusing hold reason {reason!r}: letters, digits, spaces and _.@:%=,+/- only"
        )
    return reason


def is_ours(reason: str | None) -> bool:
    return bool(reason) and reason.strip().lower().startswith(OURS)


def reservation_fields(reservation: Any) -> tuple[str | None, str | None, tuple[str, ...]]:
    """(queue, account, properties) of a Reservation, a mapping or None.

    A mapping (from the Salt modules' arguments) may give ``properties`` as a
    list or a comma-separated string, and the older singular ``property``.
    """
    if reservation is None:
        return None, None, ()
    get = reservation.get if isinstance(reservation, Mapping) else lambda k: getattr(reservation, k, None)
    props = get("properties") or ()
    if isinstance(props, str):
        props = props.split(",")
    props = [*props, get("property")] if get("property") else list(props)
    return (
        get("queue") or None,
        get("account") or None,
        tuple(dict.fromkeys(str(p).strip() for p in props if p and str(p).strip())),
    )


# ---------------------------------------------------------------- units
_MEM_UNITS = {
    "": 1,
    "b": 1,
    "k": 1024,
    "kb": 1024,
    "m": 1024**2,
    "mb": 1024**2,
    "g": 1024**3,
    "gb": 1024**3,
    "t": 1024**4,
    "tb": 1024**4,
    "p": 1024**5,
    "pb": 1024**5,
}
_MEM_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$")


def mem_mb(text: str | None, default_unit: str = "b") -> int:
    """'4gb', '5492kb', '93.1G', '512' (bytes unless default_unit) -> MB (rounded up); 0 when unknown."""
    if text is None:
        return 0
    m = _MEM_RE.match(str(text))
    if not m:
        return 0
    value, unit = float(m.group(1)), m.group(2).lower()
    if unit.endswith("w"):  # Torque words: 8 bytes
        unit, value = unit[:-1] + "b" if unit[:-1] else "b", value * 8
    if not unit:
        unit = default_unit
    factor = _MEM_UNITS.get(unit)
    if factor is None:
        return 0
    return int(math.ceil(value * factor / 1024**2))


def duration_s(text: str | None) -> int:
    """'01:00:00', '1:00:00:00', '3600', 'INFINITY' -> seconds (0 when unknown/infinite)."""
    if not text:
        return 0
    text = str(text).strip()
    parts = text.split(":")
    try:
        nums = [float(p) for p in parts]
    except ValueError:
        return 0
    if not all(math.isfinite(n) for n in nums):
        return 0
    total = 0.0
    for n in nums:
        total = total * 60 + n
    if len(nums) == 4:  # d:h:m:s
        total = nums[0] * 86400 + nums[1] * 3600 + nums[2] * 60 + nums[3]
    return int(total)


def to_int(text: Any, default: int = 0) -> int:
    try:
        return int(float(str(text).strip()))
    except (TypeError, ValueError):
        return default


def to_float(text: Any, default: float = 0.0) -> float:
    try:
        return float(str(text).strip().rstrip("*"))
    except (TypeError, ValueError):
        return default


# ---------------------------------------------------------------- XML streaming
# What is fed to (or sliced for) libxml2 at a time.  Small enough that the tree
# built from it is still in the CPU caches when Python reads it: 128 KB pieces
# parse a 50,000-job document 10-15 % faster than 1 MB ones (docs/performance.md).
CHUNK = 1 << 17


def _feed(parser: etree.XMLPullParser, data: str | bytes) -> Iterator[None]:
    """Feed ``data`` in CHUNK pieces (a str is encoded one piece at a time, never whole), then close."""
    encode = isinstance(data, str)
    for start in range(0, len(data), CHUNK):
        chunk = data[start : start + CHUNK]
        parser.feed(chunk.encode("utf-8") if encode else chunk)
        yield
    parser.close()
    yield


def iter_xml(
    data: str | bytes, tags: str | Sequence[str], root: str | Sequence[str], command: str, allow_empty: bool = False
) -> Iterator[etree._Element]:
    """Yield each finished element named in ``tags``, streaming, freeing the tree as it goes.

    The document's root must be one of ``root``; a syntax error, a truncated
    document or another root raises :class:`ParseError` (after the elements
    already yielded: callers collect into a list before using any).  An
    element is cleared once the caller asks for the next one: keep what you
    need from it, not the element.
    """
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
#   with its own error message.
_FAST_MIN = 2 * CHUNK
_DECL = (
    r"(?:<\?xml\s+version\s*=\s*(['\"])1\.0\1(?:\s+encoding\s*=\s*(['\"])[Uu][Tt][Ff]-8\2)?"
    r"(?:\s+standalone\s*=\s*(['\"])(?:yes|no)\3)?\s*\?>\s*)?"
)
_HEADS: dict[tuple[str, type], re.Pattern] = {}
# collect_ids=False: no xml:id index (nothing looks elements up by id); a few per cent of the parse.
_SLICE_PARSER = etree.XMLParser(huge_tree=True, resolve_entities=False, no_network=True, collect_ids=False)


def _head(root: str, kind: type) -> re.Pattern:
    key = (root, kind)
    if key not in _HEADS:
        pattern = r"\A" + _DECL + "<" + re.escape(root) + ">"
        _HEADS[key] = re.compile(pattern.encode() if kind is bytes else pattern)
    return _HEADS[key]


def _slices(data: str | bytes, tag: str, root: str) -> Iterator[etree._Element]:
    """Roots of the parsed slices; raises ValueError (or a parse error) to give up."""
    head = _head(root, type(data)).match(data)
    if head is None:
        raise ValueError("not a plain document")
    encode = isinstance(data, str)
    end_tag = f"</{tag}>" if encode else f"</{tag}>".encode()
    open_root = f"<{root}>".encode()
    close_root = f"</{root}>".encode()
    start = 0
    while True:
        cut = data.find(end_tag, max(start, head.end()) + CHUNK)
        piece = data[start:] if cut < 0 else data[start : cut + len(end_tag)]
        if encode:
            piece = piece.encode("utf-8")
        text = (b"" if start == 0 else open_root) + piece + (b"" if cut < 0 else close_root)
        yield etree.fromstring(text, _SLICE_PARSER)
        if cut < 0:
            return
        start = cut + len(end_tag)


def _slice_records(
    top: etree._Element,
    tag: str,
    fields: frozenset[str],
    elements: frozenset[str],
    build: Callable[..., Any],
    out: list,
) -> None:
    """Append ``build(record, n, its fields)`` for each record of a slice; ValueError to give up.

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
                out.append(build(rec, len(out) + 1, kids))
            rec, kids = elem, {}
        elif name == tag:
            raise ValueError("records deeper down")
    if rec is not None:
        out.append(build(rec, len(out) + 1, kids))


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


def build_records(
    data: str | bytes,
    tag: str,
    root: str,
    command: str,
    build: Callable[..., Any],
    fields: Iterable[str] = (),
    elements: Iterable[str] = (),
    allow_empty: bool = False,
) -> list:
    """``build(elem, n, kids)`` for each record of ``iter_xml(data, tag, root, command, allow_empty)``.

    ``kids`` maps the names of the record's children named in ``fields`` to
    their text (the last one of a name counts) and those named in
    ``elements`` to the element itself (the first one counts).  Large
    documents whose records are the root's children are parsed in slices (see
    above); the result, or the error raised, is always the one iter_xml gives.
    """
    fields, elements = frozenset(fields), frozenset(elements)
    if fields & elements:
        raise ValueError(f"{sorted(fields & elements)} both as text and as elements")
    if data is not None and len(data) >= _FAST_MIN:
        try:
            out: list = []
            for top in _slices(data, tag, root):
                _slice_records(top, tag, fields, elements, build, out)
            return out
        except Exception:  # noqa: BLE001 - give up: iter_xml decides (and names the error)
            pass
    return [
        build(elem, n, _record_fields(elem, fields, elements))
        for n, elem in enumerate(iter_xml(data, tag, root, command, allow_empty), 1)
    ]


def gc_paused():
    """The cyclic garbage collector paused while a parser builds tens of thousands of objects that
    all live on (a fifth of the parse time at 50,000 jobs): see :mod:`dcluster.gcpause`."""
    return gcpause.paused()


def has_content(data: str | bytes) -> bool:
    """True when ``data`` holds something besides whitespace (without copying it)."""
    return bool(re.search(rb"\S" if isinstance(data, bytes) else r"\S", data))


def text(elem: etree._Element, path: str, default: str = "") -> str:
    value = elem.findtext(path)
    return value.strip() if value is not None else default


# ---------------------------------------------------------------- adapter base
class Adapter:
    """Holds the validated ``cluster.config`` mapping and a run callable.

    ``run(argv, stdin=None) -> (rc, stdout, stderr)`` runs one argument list
    (no shell); in Salt it wraps ``cmd.run_all``, in tests a recorder or
    ``subprocess.run``.  ``sleep`` is injectable so waits are testable.
    """

    kind = "scheduler"
    # nodes() and jobs() are read-only commands sharing nothing here: the engine runs them at once
    # (controller/loop.py) when whoever gave ``run`` knows it thread-safe and sets this (subprocess is:
    # engine_ports.local_scheduler); a recorder or a simulation keeps its calls in order
    queries_in_parallel = False

    def __init__(self, config: Mapping[str, Any], run: Run, sleep: Callable[[float], None] | None = None):
        import time

        self.config = config
        self._run = run
        self.sleep = sleep or time.sleep

    # -- helpers
    def cmd(self, key: str) -> Command:
        command = self.config.get(key)
        if command is None:
            raise SchedulerError(key, None, "", f"command {key!r} is not configured")
        if isinstance(command, str):
            command = Command.parse(command)
        return command

    def argv(self, key: str, *values: object) -> list[str]:
        try:
            return self.cmd(key).render(*values)
        except CommandError as exc:
            raise RefusedError(key, str(exc)) from exc

    def call(
        self, argv: Sequence[str], stdin: str | None = None, ok: Sequence[int] = (0,), check: bool = True
    ) -> tuple[int, str, str]:
        argv = [str(a) for a in argv]
        log.debug("%s: running %s", self.kind, argv)
        try:
            rc, out, err = self._run(argv, stdin) if stdin is not None else self._run(argv)
        except SchedulerError:
            raise
        except Exception as exc:  # timeouts, missing binaries
            raise SchedulerError(argv, None, "", f"could not run ({exc})") from exc
        out = out or ""
        err = err or ""
        if check and rc not in ok:
            raise SchedulerError(argv, rc, (err + "\n" + out).strip() if err.strip() else out)
        return rc, out, err

    def output(self, argv: Sequence[str], stdin: str | None = None) -> str:
        return self.call(argv, stdin)[1]

    def filter_jobs(self, jobs: list) -> list:
        queues = tuple(self.config.get("queue_to_monitor") or ())
        if not queues:
            return jobs
        # a job counts when it may run in any monitored queue: one that names no queue (Grid Engine without
        # -q) may run in all of them; one that names several (-q a.q,b.q, -p a,b) or a pattern, in any match
        return [j for j in jobs if any(j.may_run_in(q) for q in queues)]

    # -- interface (implemented per scheduler)
    def jobs(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def nodes(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def node(self, name: str):
        """One node, or None when the scheduler does not know it."""
        check_host(name)
        for node in self.nodes():
            if node.name == name:
                return node
        return None

    node_word = "node"  # what the scheduler calls its nodes, for messages

    def releasable(self, name: str, force: bool = False):
        """The node ``name``, if we may release it: not held, held by us, or anyone's with ``force``."""
        node = self.node(name)
        if node is None:
            raise RefusedError("release", f"{name} is not a {self.node_word}")
        if node.state == NodeState.HELD and not is_ours(node.hold_reason) and not force:
            raise RefusedError("release", f"{name} is held by someone else ({node.hold_reason!r}); not releasing")
        return node


def split_list(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (list, tuple)):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return tuple(p.strip() for p in str(value).split(",") if p.strip() and p.strip() != "(null)")

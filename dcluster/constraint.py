"""What node properties a job requires, as an expression a resource's properties satisfy or not.

Each scheduler has its own rule and the adapters keep the job's words
(``Job.properties``, ``Job.constraint``); this module turns them into an
expression and evaluates it against the properties every node of one
resource carries (a job is placed on one resource, whose nodes are alike):

- Torque/PBS (``nodes=2:ppn=4:bigmem:ssd``, ``-l feature=``) and Grid
  Engine (boolean complexes requested with ``-l``): every property named.
- Slurm (``--constraint``): :func:`parse_slurm`, the grammar of Slurm's
  own reader (slurmctld's ``_feature_string2list``): ``&`` (and ``,``, which
  Slurm rewrites to ``&``) AND, ``|`` OR, ``[a|b]`` matching OR,
  ``[a*2&b*4]`` counts in brackets, ``a*2`` a node count, ``(a&b)``
  grouping; one level of parentheses, one set of brackets.  Slurm reads the
  operators left to right, without precedence (``a|b&c`` is ``(a|b)&c``):
  so does :func:`evaluate`.

On nodes that are all alike, a matching OR holds when one of its choices
is on them, and a count ``a*2`` when ``a`` is (how many nodes the job gets
is the packing's business; Slurm refuses at submission a count above the
job's node count).  A job split over two resources (two nodes with ``a``
from one, four with ``b`` from another) is not planned: it goes to a
resource whose nodes carry both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

MAX_CONSTRAINT = 1024  # characters; a longer one is refused, not read


class ConstraintError(ValueError):
    """A constraint that cannot be read; the message says what and where."""


@dataclass(frozen=True, slots=True)
class Feature:
    name: str
    count: int = 0  # Slurm's a*N: N nodes with it (0: none given)


@dataclass(frozen=True, slots=True)
class Group:
    """Terms joined left to right by ``ops`` ("&" or "|"); ``kind``: "all", "paren" or "bracket"."""

    terms: tuple[Feature | Group, ...]
    ops: tuple[str, ...] = ()
    kind: str = "all"
    count: int = 0  # (a&b)*N


Expr = Feature | Group


def all_of(names: Iterable[str]) -> Expr | None:
    """Every one of ``names`` (Torque, Grid Engine); None when there are none."""
    unique = tuple(dict.fromkeys(n for n in names if n))
    if not unique:
        return None
    return Group(tuple(Feature(n) for n in unique), ("&",) * (len(unique) - 1))


def evaluate(expr: Expr | None, offered: frozenset[str] | set[str]) -> bool:
    """Whether nodes carrying exactly ``offered`` satisfy ``expr`` (None: no requirement)."""
    if expr is None:
        return True
    if isinstance(expr, Feature):
        return expr.name in offered
    result = evaluate(expr.terms[0], offered)
    for op, term in zip(expr.ops, expr.terms[1:], strict=True):
        result = (result and evaluate(term, offered)) if op == "&" else (result or evaluate(term, offered))
    return result


def names(expr: Expr | None) -> tuple[str, ...]:
    """Every feature named in ``expr``, in order, once each."""
    out: list[str] = []

    def walk(e: Expr | None) -> None:
        if isinstance(e, Feature):
            if e.name not in out:
                out.append(e.name)
        elif e is not None:
            for t in e.terms:
                walk(t)

    walk(expr)
    return tuple(out)


# ---------------------------------------------------------------- Slurm
_OPS = "&|,*[]()"
# A feature name: what Slurm's reader takes (anything but its operators) without blanks or control
# characters, which no node's Features= can carry.
_NAME = re.compile(r"[^&|,*\[\]()\s\x00-\x1f\x7f]+")
_COUNT = re.compile(r"[0-9]+")


def parse_slurm(text: str) -> Expr | None:
    """A Slurm ``--constraint`` (squeue's ``features``) as an expression; None when empty.

    Raises :class:`ConstraintError` naming the position and what was wrong for
    anything Slurm's own reader refuses, and for names with blanks or control
    characters.
    """
    if not isinstance(text, str):
        raise ConstraintError(f"not a string: {type(text).__name__}")
    return _parse_slurm(text)


@lru_cache(maxsize=4096)  # many jobs share a constraint; each is read once (errors are raised anew)
def _parse_slurm(text: str) -> Expr | None:
    if len(text) > MAX_CONSTRAINT:
        raise ConstraintError(f"longer than {MAX_CONSTRAINT} characters ({len(text)})")
    if not text.strip():
        return None
    return _SlurmParser(text.strip()).parse()


class _SlurmParser:
    def __init__(self, text: str):
        self.text, self.pos = text, 0
        self.brackets = 0  # sets of brackets seen: Slurm allows one

    def fail(self, why: str) -> ConstraintError:
        return ConstraintError(f"{why} at character {self.pos + 1}")

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def parse(self) -> Expr:
        expr = self.sequence(kind="all", closer="")
        if self.pos != len(self.text):
            raise self.fail(f"unexpected {self.peek()!r}")
        outside = [t for t in expr.terms if not (isinstance(t, Group) and t.kind == "bracket")]
        if any(t.count for t in outside) and sum(isinstance(t, Feature) for t in _flat(expr)) > 1:
            # Slurm refuses "'*' outside of brackets with more than one feature"
            raise ConstraintError(
                "a count ('*N') outside brackets is allowed only on a lone feature "
                "(counts of several go in brackets: '[a*2&b*1]')"
            )
        return expr

    def sequence(self, kind: str, closer: str) -> Group:
        terms, ops = [self.term(kind)], []
        while self.peek() in ("&", "|", ","):
            ops.append("|" if self.peek() == "|" else "&")  # Slurm rewrites ',' to '&'
            self.pos += 1
            terms.append(self.term(kind))
        if closer and self.peek() != closer:
            raise self.fail(f"expected {closer!r}" + (f", found {self.peek()!r}" if self.peek() else ", found the end"))
        return Group(tuple(terms), tuple(ops), kind)

    def term(self, inside: str) -> Expr:
        ch = self.peek()
        if ch == "[":
            if inside != "all":
                raise self.fail("brackets inside brackets or parentheses")
            self.brackets += 1
            if self.brackets > 1:
                raise self.fail("a second set of brackets (Slurm allows one)")
            self.pos += 1
            group = self.sequence(kind="bracket", closer="]")
            self.pos += 1
            _check_bracket(group)
            if self.peek() == "*":
                raise self.fail("a count after ']'")
            return group
        if ch == "(":
            if inside == "paren":
                raise self.fail("parentheses inside parentheses")
            self.pos += 1
            group = self.sequence(kind="paren", closer=")")
            self.pos += 1
            if any(isinstance(t, Feature) and t.count for t in group.terms):
                raise self.fail("a count inside parentheses (put it after the ')')")
            return Group(group.terms, group.ops, "paren", self.count())
        m = _NAME.match(self.text, self.pos)
        if not m:
            raise self.fail("expected a feature name, found " + (repr(ch) if ch else "the end"))
        self.pos = m.end()
        return Feature(m.group(), self.count())

    def count(self) -> int:
        if self.peek() != "*":
            return 0
        self.pos += 1
        m = _COUNT.match(self.text, self.pos)
        if not m or int(m.group()) <= 0:
            raise self.fail("'*' must be followed by a positive node count")
        self.pos = m.end()
        return int(m.group())


def _check_bracket(group: Group) -> None:
    """Slurm: inside brackets, '&' (counts) needs a count on every term, '|' (matching OR) none, not both."""
    if "&" in group.ops and "|" in group.ops:
        raise ConstraintError(
            "brackets mix '&' and '|' (Slurm takes either counts joined by '&' or a matching OR joined by '|')"
        )
    if "&" in group.ops and not all(t.count for t in group.terms):
        raise ConstraintError("inside brackets, every term joined by '&' needs a count ('[a*2&b*1]')")
    if "|" in group.ops and any(t.count for t in group.terms):
        raise ConstraintError("inside brackets, a matching OR ('[a|b]') takes no counts")


def _flat(expr: Expr) -> list[Expr]:
    if isinstance(expr, Feature):
        return [expr]
    return [expr, *(x for t in expr.terms for x in _flat(t))]

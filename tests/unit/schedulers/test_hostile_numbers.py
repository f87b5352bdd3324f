"""Scheduler output is input: every number in it may be absurd.  Each recorded output, each numeric field
set (in every record at once) to a hostile value, must parse into jobs and nodes that also cross the wire
from a head minion (``Job.from_dict(job.to_dict())``: a value the master's own parse takes but the head's
refuses failed every remote poll, found by the red team), or fail with a ParseError naming the command;
never another exception.  The fields are found by walking the recordings, not listed by hand."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from lxml import etree

from dcluster.model import Job, Node
from dcluster.schedulers import ParseError, sge, slurm, torque
from dcluster.wire import ModelError
from tests.unit.schedulers.sched_helpers import data

HOSTILE_JSON = [10**400, -(10**400), float("inf"), float("nan"), -1, 2**64, "x", "1e999", None, True]
HOSTILE_TEXT = ["1" * 400, "1" * 5000, "-1", "nan", "inf", "-inf", "1e999", "", "x", "99999999999999999999", "-0"]
NUMERIC = re.compile(r"^-?\d+(\.\d+)?$")


def _crosses_the_wire(out: list[Any]) -> None:
    for item in out:
        cls = Job if isinstance(item, Job) else Node
        try:
            cls.from_dict(item.to_dict())
        except ModelError as exc:
            raise AssertionError(f"parsed, but refused from a head minion: {exc}") from None


def _outcome(parse: Callable[[str], list[Any]], text: str) -> None:
    try:
        out = parse(text)
    except ParseError:
        return
    _crosses_the_wire(out)


# ---------------------------------------------------------------- JSON (Slurm)
def _json_paths(doc: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Paths (keys only, list indexes as '*') of numeric leaves and of {"number": ...} objects."""
    if isinstance(doc, dict):
        if "number" in doc and set(doc) <= {"set", "infinite", "number"}:
            yield (*path, "number")
            return
        for k, v in doc.items():
            yield from _json_paths(v, (*path, k))
    elif isinstance(doc, list):
        for v in doc:
            yield from _json_paths(v, (*path, "*"))
    elif isinstance(doc, (int, float)) and not isinstance(doc, bool):
        yield path


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> None:
    if not path:
        return
    head, rest = path[0], path[1:]
    items = doc if head == "*" and isinstance(doc, list) else [doc.get(head)] if isinstance(doc, dict) else []
    if not rest:
        if isinstance(doc, dict) and head in doc:
            doc[head] = value
        elif head == "*" and isinstance(doc, list):
            doc[:] = [value] * len(doc)
        return
    for item in items:
        if item is not None:
            _set(item, rest, value)


SLURM = [
    ("slurm/dcsched-slurm2205-squeue-all-json.json", lambda t: slurm.parse_squeue(t, now=1.7e9)),
    ("slurm/rivos-squeue-json-21.08.json", lambda t: slurm.parse_squeue(t, now=1.7e9)),
    ("slurm/slurmweb-slurmrestd-25.05-v0.0.43-slurm-jobs.json", lambda t: slurm.parse_squeue(t, now=1.7e9)),
    ("slurm/dcsched-slurm2205-sinfo-json.json", slurm.parse_sinfo),
    ("slurm/rivos-sinfo-json-21.08.json", slurm.parse_sinfo),
    ("slurm/slurmweb-slurmrestd-25.05-v0.0.43-slurm-nodes.json", slurm.parse_sinfo),
]


@pytest.mark.parametrize("name, parse", SLURM, ids=[n.split("/")[1] for n, _ in SLURM])
def test_every_number_of_a_slurm_recording_may_be_hostile(name, parse):
    doc = json.loads(data(name))
    paths = sorted(set(_json_paths(doc)), key=str)
    assert len(paths) > 10, paths  # the walk found the recording's numbers
    failures = []
    for path in paths:
        for value in HOSTILE_JSON:
            bad = copy.deepcopy(doc)
            _set(bad, path, value)
            try:
                _outcome(parse, json.dumps(bad))
            except Exception as exc:  # noqa: BLE001 - each one is a finding, listed together
                failures.append(f"{'.'.join(map(str, path))} = {str(value)[:20]}: {type(exc).__name__}: {exc}"[:300])
    assert not failures, "\n".join(failures[:40])


# ---------------------------------------------------------------- XML (Grid Engine, Torque)
XML = [
    ("sge/dcsched-sge819-qstat-u-all-xml-r.xml", sge.parse_qstat),
    ("sge/dcsched-sge819-qstat-u-all-xml-r-bool.xml", sge.parse_qstat),
    ("sge/pcluster-sge-qstat-xml-g-dt-u-all.xml", sge.parse_qstat),
    ("sge/gogridengine-small-qstat-u-F-xml.xml", sge.parse_qstat),
    ("sge/dcsched-sge819-qhost-q-j-xml.xml", sge.parse_qhost),
    ("sge/ghost-in-the-shell-ogs-qhost-xml.xml", sge.parse_qhost),
    ("torque/goove-farm.particle.cz-qstat-x-single-job.xml", torque.parse_qstat),
    ("torque/pcluster-torque612-qstat-t-x.xml", torque.parse_qstat),
    ("torque/ctxswitch-qhost-output_05-pbsnodes-x.xml", torque.parse_pbsnodes),
    ("torque/pcluster-torque612-pbsnodes-x.xml", torque.parse_pbsnodes),
]


@pytest.mark.parametrize("name, parse", XML, ids=[n.split("/")[1] for n, _ in XML])
def test_every_number_of_an_xml_recording_may_be_hostile(name, parse):
    text = data(name)
    root = etree.fromstring(text.encode())
    tags = sorted(
        {el.tag for el in root.iter() if isinstance(el.tag, str) and el.text and NUMERIC.match(el.text.strip())}
    )
    assert tags, "no numeric element found"
    failures = []
    for tag in tags:
        for value in HOSTILE_TEXT:
            bad = copy.deepcopy(root)
            for el in bad.iter(tag):
                if el.text and NUMERIC.match(el.text.strip()):
                    el.text = value
            try:
                _outcome(parse, etree.tostring(bad).decode())
            except Exception as exc:  # noqa: BLE001 - each one is a finding, listed together
                failures.append(f"<{tag}> = {value[:20]!r}: {type(exc).__name__}: {exc}"[:300])
    assert not failures, "\n".join(failures[:40])


@pytest.mark.parametrize(
    "name", ["sge/dcsched-sge819-qstat-u-all-xml-r.xml", "sge/pcluster-sge-qstat-xml-g-dt-u-all.xml"]
)
def test_every_number_of_a_task_range_may_be_hostile(name):
    """A pending array's <tasks> ('4,5', '1-10:2') is numbers the walk above does not set (no element of it is
    one number): each of them set to a hostile value."""
    text = data(name)
    assert "<tasks>" in text
    failures = []
    for value in HOSTILE_TEXT:
        for spec in (value, f"{value}-2", f"1-{value}", f"1-3:{value}", f"1,{value}"):
            bad = re.sub(r"<tasks>[^<]*</tasks>", f"<tasks>{spec}</tasks>", text)
            try:
                _outcome(sge.parse_qstat, bad)
            except Exception as exc:  # noqa: BLE001 - each one is a finding, listed together
                failures.append(f"<tasks> = {spec[:20]!r}: {type(exc).__name__}: {exc}"[:300])
    assert not failures, "\n".join(failures[:40])

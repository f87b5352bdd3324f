"""Son of Grid Engine: ``qstat -u '*' -xml -r``, ``qhost -q -j -xml``, ``qconf``, ``qmod``, ``qdel``.

Verified against a real SoGE 8.1.9 (Debian ``gridengine-*``) by the daemon
tests.  Exec hosts are added with the file-driven ``qconf -Ae``/``-Me`` forms
(never the editor forms).  Grid Engine keeps no reason on ``qmod -d``, so a
hold of ours is recorded by also putting the host into the hostgroup
``@dcluster_hold``, which no queue uses; ``nodes()`` reports hosts in it with
a ``hold_reason`` starting with "dcluster".
"""

from __future__ import annotations

import dataclasses
import fnmatch
import logging
import math
import operator
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from dcluster.config.schedulers import SgeConfig
from dcluster.gcpause import paused as gc_paused
from dcluster.holds import DEFAULT_HOLD_REASON
from dcluster.model import Job, JobState, Node, NodeState, host_key

from . import sge_begin
from .adapter import Adapter, Run
from .errors import ParseError, RefusedError, SchedulerError
from .sge_begin import ExecutionTimes, parse_execution_times
from .units import capped, duration_s, mem_mb, to_float, to_int
from .validate import check_group, check_host, check_jobid, check_reason, reservation_fields
from .xml_stream import iter_xml

log = logging.getLogger(__name__)

HOLD_GROUP = "@dcluster_hold"
# what qhost -h says (exit 1) of a name its resolver does not know
_UNRESOLVED = "can't resolve hostname"
HOLD_REASON = "dcluster: held (in @dcluster_hold)"
MAX_ARRAY_TASKS = 10000  # pending array tasks expanded per job; the rest are counted in extra
# ... and in one poll, all jobs together: 200 array records of 10,000 tasks each (34 kB of squeue, any user
# may submit them) made 2,000,000 jobs and ran the master out of memory.  Each pending array gets an
# equal share (array_share), so one user's arrays listed first do not hide everyone else's.
MAX_TASKS_LISTED = 100_000


def array_share(arrays: int) -> int:
    """Tasks listed for each of ``arrays`` pending array jobs in one poll: at least one each."""
    return max(1, min(MAX_ARRAY_TASKS, MAX_TASKS_LISTED // max(1, arrays)))


# ---------------------------------------------------------------- PEs
def parse_allocation_rule(output: str, command: str = "qconf -sp") -> str:
    """The ``allocation_rule`` of a ``qconf -sp PE`` listing (done here, not with grep)."""
    for line in (output or "").splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "allocation_rule":
            return parts[1]
    raise ParseError(command, output, "no allocation_rule line")


def parse_list(output: str) -> list[str]:
    """One name per line (``qconf -spl``, ``-shgrpl``, ``-sel``)."""
    return [ln.strip() for ln in (output or "").splitlines() if ln.strip() and " " not in ln.strip()]


def parse_booleans(output: str, command: str = "qconf -sc") -> dict[str, str]:
    """BOOL complexes of a ``qconf -sc`` listing: name and shortcut -> name (what ``-l`` may say)."""
    out: dict[str, str] = {}
    for line in (output or "").splitlines():
        parts = line.split()
        if len(parts) >= 3 and not parts[0].startswith("#") and parts[2].upper() == "BOOL":
            out[parts[0]] = parts[0]
            out.setdefault(parts[1], parts[0])
    if not out and "name" not in (output or ""):
        raise ParseError(command, output, "no complex listing")
    return out


# Grid Engine's own complexes that are no boolean: jobs requesting only these need no qconf -sc.
NOT_BOOLEAN = frozenset(
    {
        "arch",
        "calendar",
        "cpu",
        "h_core",
        "h_cpu",
        "h_data",
        "h_fsize",
        "h_rss",
        "h_rt",
        "h_stack",
        "h_vmem",
        "hostname",
        "load_avg",
        "mem_free",
        "mem_total",
        "mem_used",
        "num_proc",
        "qname",
        "s_core",
        "s_cpu",
        "s_data",
        "s_fsize",
        "s_rss",
        "s_rt",
        "s_stack",
        "s_vmem",
        "slots",
        "swap_free",
        "swap_total",
        "tmpdir",
        "virtual_free",
        "virtual_total",
        "mem_req",
    }
)
_TRUE = {"TRUE", "1"}  # a true BOOL value (complex(5): 0, 1, TRUE, FALSE in any case)


def request_properties(requests: Mapping[str, str], booleans: Mapping[str, str]) -> tuple[str, ...]:
    """The properties a job's hard requests ask for: boolean complexes requested true (``-l bigmem``,
    ``-l ssd=TRUE``), by their full name whichever way the job named them."""
    return tuple(
        dict.fromkeys(
            booleans[name]
            for name, value in requests.items()
            if name in booleans and (value or "TRUE").strip().upper() in _TRUE
        )
    )


def parse_hostgroup(output: str, command: str = "qconf -shgrp") -> list[str]:
    """Hosts of a ``qconf -shgrp @group`` listing (continuation lines end with a backslash)."""
    joined = (output or "").replace("\\\n", " ")
    for line in joined.splitlines():
        parts = line.split()
        if parts and parts[0] == "hostlist":
            return [h for h in parts[1:] if h != "NONE"]
    raise ParseError(command, output, "no hostlist line")


def shape_for(slots: int, rule: str | None) -> dict[str, Any]:
    """Chunks of a PE job of ``slots`` slots under allocation ``rule`` (None: no PE)."""
    slots = max(1, slots)
    if rule is None:
        return {"chunks": 1, "chunk_cores": 1, "distinct": True}
    if rule == "$pe_slots":
        return {"chunks": 1, "chunk_cores": slots, "distinct": True}
    if rule.isdigit() and int(rule) > 0:
        per = int(rule)
        return {"chunks": max(1, math.ceil(slots / per)), "chunk_cores": min(per, slots), "distinct": True}
    # $fill_up, $round_robin, or a rule we do not know: one slot per chunk, anywhere
    return {"chunks": slots, "chunk_cores": 1, "distinct": False}


def resolve_rule(pe: str, rules: Mapping[str, str]) -> str | None:
    """The rule of a requested PE name, which may be a wildcard (``-pe mpi* 4``)."""
    if pe in rules:
        return rules[pe]
    for name in sorted(rules):
        if fnmatch.fnmatchcase(name, pe):
            return rules[name]
    return None


# ---------------------------------------------------------------- qstat
# A task number of more than 20 digits is none Grid Engine or Slurm prints (int() of one of more than 4,300
# digits raised ValueError out of the parse): such a part is no range, as any other garbage
_TASKS = re.compile(r"^(\d{1,20})(?:-(\d{1,20})(?::(\d{1,20}))?)?$")


def expand_tasks(spec: str, limit: int = MAX_ARRAY_TASKS) -> tuple[list[str], int]:
    """'1-5:2,9' -> (['1', '3', '5', '9'], 0); the second value counts tasks beyond ``limit``."""
    out: list[str] = []
    beyond = 0
    for part in spec.split(","):
        m = _TASKS.match(part.strip())
        if not m:
            continue
        lo = int(m.group(1))
        hi = int(m.group(2) or lo)
        step = int(m.group(3) or 1) or 1
        n = (hi - lo) // step + 1 if hi >= lo else 0
        room = max(0, limit - len(out))
        out.extend(str(t) for t in range(lo, lo + step * min(n, room), step))
        beyond += max(0, n - room)
    return out, beyond


def _timestamp(value: str) -> float:
    if not value:
        return 0.0
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return float(to_int(value))


def _state(code: str, pending: bool) -> JobState:
    if "E" in code or "d" in code:
        return JobState.OTHER  # error state / being deleted
    if pending or code.endswith("qw"):
        return JobState.HELD if "h" in code else JobState.PENDING
    if code in {"r", "t", "Rr", "Rt", "hr", "ht", "R"} or code.endswith("r") or code.endswith("t"):
        return JobState.RUNNING
    return JobState.OTHER  # suspended (s, S, T) and others


# The fields of a raw record, in the order of the tuples the parser builds (the dicts of
# parse_qstat_records have these keys).
RECORD_KEYS = (
    "number",
    "list_state",
    "state",
    "prio",
    "name",
    "owner",
    "project",
    "queue_name",
    "hard_queue",
    "slots",
    "tasks",
    "submit",
    "master",
    "pe",
    "pe_slots",
    "requests",
)
_record_values = operator.itemgetter(*RECORD_KEYS)


def parse_qstat_records(data: str | bytes, command: str = "qstat -u * -xml -r") -> list[dict[str, Any]]:
    """Raw job records of ``qstat -xml -r``: one per ``job_list`` element."""
    with gc_paused():
        return [dict(zip(RECORD_KEYS, values, strict=True)) for values in _parse_qstat_values(data, command)]


def _parse_qstat_values(data: str | bytes, command: str) -> list[tuple[Any, ...]]:
    """The records as tuples in RECORD_KEYS order (no dict per job on the way to the Jobs)."""
    records: list[tuple[Any, ...]] = []
    append = records.append
    stamps: dict[str, float] = {}  # many jobs share a submission second
    for elem in iter_xml(data, "job_list", "job_info", command):
        f: dict[str, str] = {}
        pe = None
        requests: dict[str, str] = {}
        for c in elem:  # one pass over the children
            tag = c.tag
            if tag == "hard_request":
                requests[c.get("name", "")] = (c.text or "").strip()
            elif tag == "requested_pe":
                pe = c
            elif tag == "hard_req_queue" and "hard_req_queue" in f:
                # -q a.q,b.q (or -q a.q -q b.q) gives one element per queue: keep them all
                f[tag] = f"{f[tag]},{c.text or ''}"
            else:
                f[tag] = c.text or ""
        get = f.get
        number = get("JB_job_number", "").strip()
        if not number:
            raise ParseError(command, data, f"a <job_list> without <JB_job_number> (record {len(records) + 1})")
        stamp = get("JB_submission_time", "").strip() or get("JAT_start_time", "").strip()
        submit = stamps.get(stamp)
        if submit is None:
            submit = stamps[stamp] = _timestamp(stamp)
        slots = to_int(get("slots"), 1)
        append(
            (
                number,
                elem.get("state", ""),
                get("state", "").strip(),
                to_float(get("JAT_prio")),
                get("JB_name", "").strip(),
                get("JB_owner", "").strip(),
                get("JB_project", "").strip(),
                get("queue_name", "").strip(),
                get("hard_req_queue", "").strip(),
                slots,
                get("tasks", "").strip(),
                submit,
                get("master", "").strip(),
                pe.get("name", "") if pe is not None else None,
                to_int(pe.text, slots) if pe is not None else 0,
                requests,
            )
        )
    return records


_MEM_REQUESTS = ("mem_free", "h_vmem", "virtual_free", "s_vmem", "mem_req")


def _request_limits(requests: dict[str, str]) -> tuple[int, int]:
    """(memory per slot in MB, walltime in s) of a job's hard requests."""
    per_slot_mem = 0
    for name in _MEM_REQUESTS:
        if requests.get(name):
            per_slot_mem = mem_mb(requests[name])
            break
    return per_slot_mem, duration_s(requests.get("h_rt") or requests.get("s_rt"))


def jobs_from_records(
    records: list[dict[str, Any]], rules: Mapping[str, str] | None = None, booleans: Mapping[str, str] | None = None
) -> list[Job]:
    """Jobs from raw records; running entries of one task on several queues are merged."""
    with gc_paused():
        return _jobs_from_records([_record_values(rec) for rec in records], rules or {}, booleans or {})


def _jobs_from_records(
    records: list[tuple[Any, ...]], rules: Mapping[str, str], booleans: Mapping[str, str] | None = None
) -> list[Job]:
    """Jobs of records given as tuples in RECORD_KEYS order; ``booleans`` (parse_booleans) says which
    hard requests are node properties."""
    booleans = booleans or {}
    # job id -> (the Job's fields but id/nodes/extra as a tuple, extra); the fields are shared by the tasks of one
    # entry.  Tuples and keyword calls rather than a dict merged with the shape and expanded for every Job.
    entries: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {}
    nodes: dict[str, list[str]] = {}
    shapes: dict[tuple[int, str | None], tuple[int, int, bool]] = {}
    limits: dict[tuple[Any, ...], tuple[int, int, tuple[str, ...]]] = {}  # many jobs share their requests
    states: dict[tuple[str, bool], JobState] = {}
    pe_rules: dict[str, str | None] = {}
    share = array_share(sum(1 for rec in records if rec[1] == "pending" and rec[10]))  # list_state, task
    for (
        number,
        list_state,
        code,
        prio,
        name,
        owner,
        project,
        queue_name,
        hard_queue,
        slots,
        task,
        submit,
        _master,
        pe,
        pe_slots,
        requests,
    ) in records:
        pending = list_state == "pending"
        state = states.get((code, pending))
        if state is None:
            state = states[(code, pending)] = _state(code, pending)
        host = queue_name.split("@", 1)[1] if "@" in queue_name else ""
        if task and not pending:
            jid = f"{number}.{task}"
            if jid in entries:  # SLAVE / further queue instance of a running parallel job
                if host and host not in nodes[jid]:
                    nodes[jid].append(host)
                continue
        elif not task and number in entries:
            if host and host not in nodes[number]:
                nodes[number].append(host)
            continue
        extra: dict[str, Any] = {"state_code": code}
        rule = None
        if pe:
            rule = pe_rules[pe] if pe in pe_rules else pe_rules.setdefault(pe, resolve_rule(pe, rules))
            extra["pe"] = pe
            extra["allocation_rule"] = rule or "unknown"
            if rule is None:
                rule = "$fill_up"
        key = ((pe_slots or slots or 1) if pe else 1, rule)
        shape = shapes.get(key)
        if shape is None:
            full = shape_for(*key)
            shape = shapes[key] = (full["chunks"], full["chunk_cores"], full["distinct"])
        if requests:
            req_key = tuple(requests.items())
            per_slot_mem, walltime, props = limits.get(req_key) or limits.setdefault(
                req_key, (*_request_limits(requests), request_properties(requests, booleans))
            )
        else:
            per_slot_mem, walltime, props = 0, 0, ()
        # running: the queue instance it runs in; pending: the cluster queues (or patterns) it asked for,
        # comma-separated, "" for none (it may run in any queue: Job.may_run_in)
        if queue_name:
            queue = queue_name.split("@", 1)[0]
        elif "@" in hard_queue:
            queue = ",".join(q.split("@", 1)[0] or "*" for q in hard_queue.split(","))
        else:
            queue = hard_queue
        if task and pending:
            task_ids, beyond = expand_tasks(task, share)
            if beyond:
                extra["tasks_not_listed"] = beyond
        else:
            task_ids = [task]
        common = (
            state,
            queue,
            project if project != "NONE" else "",
            owner,
            name,
            prio,
            shape[0],
            shape[1],
            capped(per_slot_mem * shape[1]),
            shape[2],
            walltime,
            submit,
            props,
        )
        several = len(task_ids) > 1
        for t in task_ids:
            jid = f"{number}.{t}" if t else number
            if jid in entries:
                continue
            nodes[jid] = [host] if host else []
            entries[jid] = (common, dict(extra) if several else extra)
    running = JobState.RUNNING
    out: list[Job] = []
    append = out.append
    for jid, (common, extra) in entries.items():
        (
            state,
            queue,
            account,
            owner,
            name,
            prio,
            chunks,
            chunk_cores,
            chunk_mem_mb,
            distinct,
            walltime,
            submit,
            props,
        ) = common
        append(
            Job(
                id=jid,
                state=state,
                queue=queue,
                account=account,
                properties=props,
                owner=owner,
                name=name,
                priority=prio,
                chunks=chunks,
                chunk_cores=chunk_cores,
                chunk_mem_mb=chunk_mem_mb,
                distinct=distinct,
                walltime_s=walltime,
                submit_time=submit,
                nodes=tuple(nodes[jid]) if state == running else (),
                # qstat -r gives a running job's JAT_start_time, not its JB_submission_time: ``submit`` holds it
                start_time=submit if state == running else 0.0,
                extra=extra,
            )
        )
    return out


def parse_qstat(
    data: str | bytes, rules: Mapping[str, str] | None = None, command: str = "qstat -u * -xml -r"
) -> list[Job]:
    with gc_paused():
        return _jobs_from_records(_parse_qstat_values(data, command), rules or {})


# ---------------------------------------------------------------- qhost
def parse_qhost(data: str | bytes, held: Iterable[str] = (), command: str = "qhost -q -j -xml") -> list[Node]:
    """Hosts of ``qhost -q -j -xml`` (the ``global`` pseudo host skipped).

    ``held`` are the members of ``@dcluster_hold``: disabled hosts among them
    are reported with a hold reason of ours.
    """
    held = set(held)
    out: list[Node] = []
    for elem in iter_xml(data, "host", "qhost", command):
        name = elem.get("name", "")
        if not name:
            raise ParseError(command, data, "a <host> without a name")
        if name == "global":
            continue
        values = {hv.get("name"): (hv.text or "").strip() for hv in elem.iterfind("hostvalue")}
        queues: dict[str, dict[str, str]] = {}
        for q in elem.iterfind("queue"):
            queues[q.get("name", "")] = {qv.get("name"): (qv.text or "").strip() for qv in q.iterfind("queuevalue")}
        jobs: list[str] = []
        for j in elem.iterfind("job"):
            jv = {v.get("name"): (v.text or "").strip() for v in j.iterfind("jobvalue")}
            jid = j.get("name", "")
            if jv.get("taskid"):
                jid = f"{jid}.{jv['taskid']}"
            if jid and jid not in jobs:
                jobs.append(jid)
        num_proc = to_int(values.get("num_proc"), 0)
        slots = sum(to_int(q.get("slots")) for q in queues.values())
        used = sum(to_int(q.get("slots_used")) for q in queues.values())
        states = [q.get("state_string", "") for q in queues.values()]
        reporting = values.get("load_avg", "-") not in ("-", "")
        hold_reason = ""
        if not queues:
            state = NodeState.STARTING if not reporting else NodeState.UNKNOWN
        elif all("d" in s or "D" in s for s in states):
            state = NodeState.HELD
            hold_reason = HOLD_REASON if name in held else "disabled (qmod -d)"
        elif any("u" in s for s in states):
            # unknown: never reported since qmaster started (a new host) or stopped reporting
            state = NodeState.STARTING if values.get("num_proc", "-") in ("-", "") else NodeState.DOWN
        elif any("E" in s or "o" in s for s in states):
            state = NodeState.DOWN
        elif jobs or used:
            state = NodeState.BUSY
        else:
            state = NodeState.IDLE
        cores = num_proc or slots
        out.append(
            Node(
                name=name,
                state=state,
                cores=cores,
                cores_used=min(used, cores) if cores else used,
                mem_mb=mem_mb(values.get("mem_total"), "mb"),
                jobs=tuple(jobs),
                hold_reason=hold_reason,
                extra={
                    "queues": {
                        q: {
                            "slots": to_int(v.get("slots")),
                            "slots_used": to_int(v.get("slots_used")),
                            "state": v.get("state_string", ""),
                        }
                        for q, v in queues.items()
                    },
                    "in_hold_group": name in held,
                },
            )
        )
    return out


EXECHOST_TEMPLATE = """hostname              {name}
load_scaling          NONE
complex_values        {complex_values}
user_lists            NONE
xuser_lists           NONE
projects              NONE
xprojects             NONE
usage_scaling         NONE
report_variables      NONE
"""


class SgeAdapter(Adapter):
    kind = "sge"
    node_word = "Grid Engine host"
    config_type = SgeConfig
    config: SgeConfig
    worker_daemon = "sge_execd"
    keeps_cache = True  # the qsub -a start times asked (sge_begin.py)

    def __init__(
        self,
        config: SgeConfig | Mapping[str, Any],
        run: Run,
        sleep: Callable[[float], None] | None = None,
        tmpdir: str | None = None,
        cache_dir: str | None = None,
    ) -> None:
        super().__init__(config, run, sleep)
        self.tmpdir = tmpdir
        self._times = ExecutionTimes()  # qsub -a start times, kept from poll to poll
        # ... and from call to call of the execution module (each in a process of its own): in this file
        self._times_path = os.path.join(cache_dir, "sge_begin.json") if cache_dir else None
        self.clock: Callable[[], float] = time.time  # what "ahead" is measured from (tests set it)

    # ------------------------------------------------------------ helpers
    def qconf(self, *args: str) -> list[str]:
        return self.cmd("qconf_command").render() + list(args)

    def _with_file(self, option: str, name: str, content: str, ok: Sequence[int] = (0,)) -> tuple[int, str, str]:
        """``qconf <option> FILE`` with ``content`` in a temp file whose name is ``name``."""
        d = tempfile.mkdtemp(prefix="dcluster-sge-", dir=self.tmpdir)
        path = os.path.join(d, name)
        try:
            with open(path, "w") as fh:
                fh.write(content)
            os.chmod(d, 0o755)
            os.chmod(path, 0o644)
            key = {"-Ae": "add_exechost_command"}.get(option)
            argv = self.argv(key, path) if key else self.qconf(option, path)
            return self.call(argv, ok=ok)
        finally:
            try:
                os.unlink(path)
            finally:
                os.rmdir(d)

    def hostgroup(self, group: str) -> list[str] | None:
        """Hosts of a hostgroup, or None when it does not exist."""
        argv = self.qconf("-shgrp", check_group(group))
        rc, out, err = self.call(argv, check=False)
        if rc != 0:
            if "does not exist" in (err + out):
                return None
            raise SchedulerError(argv, rc, err or out)
        return parse_hostgroup(out, " ".join(argv))

    def hostgroups(self) -> list[str]:
        argv = self.qconf("-shgrpl")
        rc, out, err = self.call(argv, check=False)
        if rc != 0:
            if "no host group list defined" in (err + out).lower():
                return []
            raise SchedulerError(argv, rc, err or out)
        return parse_list(out)

    def allocation_rules(self, wanted: Iterable[str]) -> dict[str, str]:
        wanted = {w for w in wanted if w}
        if not wanted:
            return {}
        argv = self.argv("qconf_spl_command")
        rc, out, err = self.call(argv, check=False)
        if rc != 0:
            if "no parallel environment" in (err + out).lower():
                return {}
            raise SchedulerError(argv, rc, err or out)
        rules = {}
        for pe in parse_list(out):
            if not any(fnmatch.fnmatchcase(pe, w) for w in wanted):
                continue
            argv = self.argv("qconf_sp_command", pe)
            rules[pe] = parse_allocation_rule(self.output(argv), " ".join(argv))
        return rules

    # ------------------------------------------------------------ queries
    def jobs(self) -> list[Job]:
        argv = self.argv("qstat_command")
        with gc_paused():
            records = _parse_qstat_values(self.output(argv), " ".join(argv))
        pe = RECORD_KEYS.index("pe")
        rules = self.allocation_rules(r[pe] for r in records if r[pe])
        req = RECORD_KEYS.index("requests")
        asked = {name for r in records for name in r[req]}
        booleans = self.booleans() if asked - NOT_BOOLEAN else {}
        with gc_paused():
            jobs = _jobs_from_records(records, rules, booleans)
        return self.filter_jobs(self._start_times(jobs))

    def _start_times(self, jobs: list[Job]) -> list[Job]:
        """``jobs`` with each pending one whose ``qsub -a`` start time is still ahead held until then
        (sge_begin.py): not demand yet, and the planner's preboot sees when it will be."""
        listed = {
            n: j.submit_time for j in jobs if j.state == JobState.PENDING and (n := j.id.split(".", 1)[0]).isdigit()
        }
        now = self.clock()
        if self._times_path:
            self._times = sge_begin.load(self._times_path)
        before = dict(self._times.known)
        self._times.update(listed, now, self._ask_times)
        if self._times_path and self._times.known != before:
            sge_begin.save(self._times, self._times_path)
        out = []
        for j in jobs:
            when = self._times.begin(j.id.split(".", 1)[0], now) if j.state == JobState.PENDING else 0.0
            out.append(dataclasses.replace(j, state=JobState.HELD, begin_time=when) if when else j)
        return out

    def _ask_times(self, numbers: list[str]) -> dict[str, float] | None:
        argv = self.argv("qstat_j_command", ",".join(numbers))
        try:
            return parse_execution_times(self.output(argv), " ".join(argv))
        except SchedulerError as exc:  # ParseError too: these jobs count as pending, asked again next poll
            log.warning("sge: could not read start times (qsub -a) of %d job(s): %s", len(numbers), exc)
            return None

    def booleans(self) -> dict[str, str]:
        """The BOOL complexes (``qconf -sc``): the requests that name node properties."""
        argv = self.qconf("-sc")
        return parse_booleans(self.output(argv), " ".join(argv))

    def nodes(self) -> list[Node]:
        argv = self.argv("qhost_command", "", "")
        out = self.output(argv)
        held = self.hostgroup(HOLD_GROUP) or []
        return parse_qhost(out, held, " ".join(argv))

    def node(self, name: str) -> Node | None:
        """The host ``name`` as ``qhost`` lists it (None: no such exec host), under whatever spelling
        Grid Engine prints it (its resolver's: a domain, another case).  A failed ``qhost`` is an error,
        never "no such host": remove() and vacate() act on this answer."""
        check_host(name)
        argv = self.argv("qhost_command", "-h", name)
        rc, out, err = self.call(argv, check=False)
        if rc == 0:
            listing = parse_qhost(out, self.hostgroup(HOLD_GROUP) or [], " ".join(argv))
        elif _UNRESOLVED in err + out:
            # qhost resolves a -h argument itself and exits 1 on a name its resolver does not know (SoGE
            # 8.1.9); qmaster may still have such a host (its hosts line gone), so the whole list decides
            listing = self.nodes()
        else:
            raise SchedulerError(argv, rc, err or out)
        key = host_key(name)
        found = [n for n in listing if host_key(n.name) == key]
        return found[0] if found else None

    def check(self) -> dict[str, Any]:
        problems = []
        for key in ("qstat_command", "qhost_command"):
            try:
                argv = self.argv(key, "", "") if key == "qhost_command" else self.argv(key)
                out = self.output(argv)
                (parse_qhost if key == "qhost_command" else parse_qstat_records)(out, command=" ".join(argv))
            except SchedulerError as exc:
                problems.append(str(exc))
        return {"healthy": not problems, "scheduler": self.kind, "problems": problems}

    # ------------------------------------------------------------ actions
    def add_node(
        self,
        name: str,
        cores: int,
        mem_mb: int = 0,
        reservation: Any = None,
        properties: Iterable[str] = (),
        address: str | None = None,
    ) -> dict[str, Any]:
        """Exec host from a file (``qconf -Ae``, or ``-Me`` when it exists), hostgroup, queue slots.

        ``address`` is not used: Grid Engine reaches its hosts by name."""
        check_host(name)
        cores = int(cores)
        if cores < 1:
            raise RefusedError("add_node", f"cores must be at least 1, not {cores}")
        queue, account, given = reservation_fields(reservation)
        # each property a boolean complex TRUE on the host (the complex must exist: qconf -sc)
        props = [check_group(p) for p in dict.fromkeys((*properties, *given))]
        values = ",".join(f"{p}=TRUE" for p in props) or "NONE"
        group = check_group(account or self.config.default_hostgroup)
        if not group.startswith("@"):
            group = "@" + group
        queue = check_group(queue or self.config.default_queue)
        exists = self.call(self.qconf("-se", name), check=False)[0] == 0
        self._with_file("-Me" if exists else "-Ae", name, EXECHOST_TEMPLATE.format(name=name, complex_values=values))
        members = self.hostgroup(group)
        if members is None:
            raise SchedulerError(self.qconf("-shgrp", group), 1, "", f"hostgroup {group} does not exist")
        if _member(members, name) is None:
            self.call(self.argv("hostgroup_command", "-aattr", name, group))
        self.call(self.argv("set_slots_command", cores, queue, name))
        return {
            "name": name,
            "cores": cores,
            "hostgroup": group,
            "queue": queue,
            "updated": exists,
            "properties": props,
        }

    def set_reservation(
        self, name: str, queue: str | None = None, account: str | None = None, properties: Iterable[str] = ()
    ) -> dict[str, Any]:
        """Put the host into the hostgroup ``account`` and give it slots in ``queue``.

        Properties (boolean complexes) are given to a host when it is added only."""
        check_host(name)
        if tuple(properties):
            raise RefusedError("set_reservation", f"{name}: Grid Engine properties are set by add_node only")
        done: dict[str, Any] = {"name": name}
        if account:
            group = check_group(account if account.startswith("@") else "@" + account)
            if _member(self.hostgroup(group), name) is None:
                self.call(self.argv("hostgroup_command", "-aattr", name, group))
            done["hostgroup"] = group
        if queue:
            node = self.node(name)
            slots = node.cores if node and node.cores else 1
            self.call(self.argv("set_slots_command", slots, check_group(queue), name))
            done["queue"] = queue
        return done

    def hold(self, name: str, reason: str = DEFAULT_HOLD_REASON) -> None:
        """Disable the host's queues and mark the hold as ours with ``@dcluster_hold``."""
        check_host(name)
        check_reason(reason)  # Grid Engine cannot keep it; validated for a uniform interface
        self.call(self.argv("qmod_command", "-d", name))
        members = self.hostgroup(HOLD_GROUP)
        if members is None:
            self._with_file("-Ahgrp", "dcluster_hold", f"group_name {HOLD_GROUP}\nhostlist {name}\n")
        elif _member(members, name) is None:
            self.call(self.argv("hostgroup_command", "-aattr", name, HOLD_GROUP))

    def _leave_hold_group(self, name: str) -> None:
        members = self.hostgroup(HOLD_GROUP)
        member = _member(members, name)
        if member is not None:
            self.call(self.argv("hostgroup_command", "-dattr", check_host(member), HOLD_GROUP))

    def release(self, name: str, force: bool = False) -> None:
        """Enable the host's queues and drop our mark; an admin's hold is left alone unless ``force``."""
        self.releasable(name, force)
        self.call(self.argv("qmod_command", "-e", name))
        self._leave_hold_group(name)

    def remove(self, name: str, wait: float = 0.0) -> dict[str, Any]:
        """Disable, wait up to ``wait`` s for jobs (refuse while any), leave hostgroups, purge slots, stop execd, delete."""
        check_host(name)
        node = self.node(name)
        known = self.call(self.qconf("-se", name), check=False)[0] == 0
        if node is None and not known:
            return {"name": name, "removed": False, "reason": "not an exec host"}
        if node is None:
            # qconf has the exec host but qhost lists no such host: its jobs cannot be checked, so it stays
            raise RefusedError("remove", f"{name}: qconf -se knows it but qhost does not list it; jobs unknown")
        if node is not None:
            self.call(self.argv("qmod_command", "-d", name), check=False)
            node = self.wait_for_jobs(name, node, wait)
            if node is not None and node.jobs:
                raise RefusedError("remove", f"{name} still runs jobs {', '.join(node.jobs)}; it stays disabled")
        queues = list((node.extra.get("queues") or {}) if node else {})
        for group in self.hostgroups():
            member = _member(self.hostgroup(group), name)
            if member is not None:
                self.call(self.argv("hostgroup_command", "-dattr", check_host(member), group))
        for queue in queues:
            self.call(self.argv("unset_slots_command", check_group(queue), name), check=False)
        self.call(self.argv("kill_execd_command", name), check=False)  # fails when execd is already gone
        self.call(self.argv("remove_node_command", name))
        return {"name": name, "removed": True, "queues": queues}

    def vacate(self, name: str) -> list[str]:
        """Force-delete the host's jobs (``qdel -f``).  Returns the job ids."""
        node = self.node(name)
        if node is None:
            raise RefusedError("vacate", f"{name} is not a Grid Engine host")
        done = []
        for jid in node.jobs:
            check_jobid(jid)
            self.call(self.argv("qdel_command", jid))
            done.append(jid)
        return done


def _member(members: Iterable[str] | None, name: str) -> str | None:
    """The member of a host group that is host ``name``, as Grid Engine spells it (its resolver's name: a
    domain, another case; model.host_key), or None.  Removing by our spelling left the host in the group,
    and Grid Engine refuses to delete a host a group still lists."""
    key = host_key(name)
    return next((m for m in members or () if host_key(m) == key), None)

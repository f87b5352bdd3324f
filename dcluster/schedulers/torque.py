"""Torque (PBS) with the MAUI scheduler: ``qstat -x -t``, ``pbsnodes -x``, ``qmgr``, MAUI commands.

Torque is not packaged for Debian 12, so nothing real can run here: the
parsers are tested against real recorded outputs (tests/data/scheduler-output/
torque, with provenance) and the adapter through fake commands on PATH that
replay them.  The MAUI text formats (``diagnose -p``, ``showres -n``,
``checknode``) were checked against MAUI's own source, not against a captured
output, none being public: see :mod:`.maui`.  :meth:`TorqueAdapter.check`
(pbs_server and MAUI answer) is for operators: the engine's poll runs
``diagnose -p`` every time, so MAUI down fails the poll (:meth:`TorqueAdapter.jobs`).
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from dcluster.config.schedulers import TorqueConfig
from dcluster.gcpause import paused as gc_paused
from dcluster.holds import DEFAULT_HOLD_REASON
from dcluster.model import Job, JobState, Node, NodeState, host_key

from . import maui
from .adapter import Adapter, Run
from .errors import ParseError, RefusedError, SchedulerError
from .units import capped, duration_s, mem_mb, split_list, to_int
from .validate import check_group, check_host, check_jobid, check_reason, reservation_fields
from .xml_records import build_records
from .xml_stream import iter_xml, text

log = logging.getLogger(__name__)

_STATES = {
    "Q": JobState.PENDING,
    "H": JobState.HELD,  # user/operator/system hold, and unsatisfied dependencies
    "W": JobState.HELD,  # waiting for its execution time
    "R": JobState.RUNNING,
}


def short_id(job_id: str) -> str:
    """'136.server.domain' -> '136'; '166[1].server' -> '166[1]'."""
    return job_id.strip().split(".", 1)[0]


def parse_nodespec(spec: str) -> list[tuple[int, int, tuple[str, ...]]]:
    """'1:ppn=2+2:ppn=3:gpu' -> [(1, 2, ()), (2, 3, ('gpu',))].

    A part starting with a host name (``node01:ppn=4``) counts as one node.
    """
    parts = []
    for part in spec.split("+"):
        toks = [t.strip() for t in part.split(":") if t.strip()]
        if not toks:
            continue
        count, ppn, props = 1, 1, []
        first = toks[0]
        rest = toks[1:]
        if first.isdigit():
            # to_int: int() raises on a number of more than 4,300 digits (and on '²', a digit to isdigit)
            count = to_int(first, 1)
        elif "=" in first:
            rest = toks
        # else: a host name; one node of it
        for tok in rest:
            if "=" in tok:
                key, _, value = tok.partition("=")
                if key == "ppn":
                    ppn = max(1, to_int(value, 1))
            else:
                props.append(tok)
        parts.append((max(count, 1), ppn, tuple(props)))
    return parts


def job_shape(res: dict[str, str]) -> dict[str, Any]:
    """Chunks, cores, memory and properties of a Torque Resource_List."""
    shape: dict[str, Any] = {"chunks": 1, "chunk_cores": 1, "distinct": True, "properties": ()}
    nodes = res.get("nodes", "")
    extra: dict[str, Any] = {}
    if nodes:
        parts = parse_nodespec(nodes)
        if parts:
            shape["chunks"] = capped(sum(p[0] for p in parts))
            # A mixed request (1:ppn=4+8:ppn=1) is shaped as its largest chunk
            # everywhere, so whatever is planned can hold it; the exact parts are kept.
            shape["chunk_cores"] = max(p[1] for p in parts)
            props: list[str] = []
            for p in parts:
                props.extend(x for x in p[2] if x not in props)
            shape["properties"] = tuple(props)
            if len(parts) > 1:
                extra["chunk_list"] = [[p[0], p[1]] for p in parts]
    elif res.get("ncpus"):
        # One chunk of ncpus cores: counting one core would launch nodes too small for the job.
        shape["chunk_cores"] = max(1, to_int(res["ncpus"], 1))
    elif res.get("procs"):
        shape["chunks"] = max(1, to_int(res["procs"], 1))
        shape["distinct"] = False
    if res.get("feature"):
        # -l feature=a:b (Moab/MAUI's resource extension): node properties as well, all required
        feats = [f.strip() for f in res["feature"].replace(",", ":").split(":") if f.strip()]
        shape["properties"] = tuple(dict.fromkeys((*shape["properties"], *feats)))
    total_mem = mem_mb(res.get("mem"))
    if total_mem:
        shape["chunk_mem_mb"] = int(math.ceil(total_mem / shape["chunks"]))
    elif res.get("pmem"):
        shape["chunk_mem_mb"] = capped(mem_mb(res["pmem"]) * shape["chunk_cores"])
    shape["walltime_s"] = duration_s(res.get("walltime"))
    if extra:
        shape["extra"] = extra
    return shape


def _exec_nodes(exec_host: str) -> tuple[str, ...]:
    out: list[str] = []
    for part in exec_host.split("+"):
        host = part.split("/", 1)[0].strip()
        if host and host not in out:
            out.append(host)
    return tuple(out)


# The children of a <Job> whose text parse_qstat reads (and <Resource_List>, read as an
# element); a real record has about 40, and reading only these is most of the per-job cost saved.
# A repeated child: the last one counts, but the first <Resource_List>.
_QSTAT_FIELDS = (
    "Job_Id",
    "job_state",
    "Hold_Types",
    "queue",
    "Account_Name",
    "Job_Owner",
    "Job_Name",
    "ctime",
    "exec_host",
    "start_time",
    "Execution_Time",
)


def _epoch(value: Any) -> float:
    """A Torque time (seconds since the epoch) as a float; 0.0 when missing or not a number."""
    try:
        return float(int(value))  # the usual form; to_int would take twice as long
    except (TypeError, ValueError, OverflowError):  # OverflowError: beyond a float (to_int gives 0)
        return float(to_int(value))


# A Job's shape fields, in this order, as _cached_shape returns them.
_SHAPE_FIELDS = ("properties", "chunks", "chunk_cores", "chunk_mem_mb", "distinct", "walltime_s")
_SHAPE_DEFAULTS = ((), 1, 1, 0, True, 0)


def _cached_shape(
    resource_list: Any, shapes: dict[Any, tuple[tuple[Any, ...], list[list[int]] | None]]
) -> tuple[tuple[Any, ...], list[list[int]] | None]:
    """job_shape of a <Resource_List> element, computed once per distinct content.

    Returns the shape as a tuple in _SHAPE_FIELDS order and the ``chunk_list``
    of a mixed request, if any (shared between jobs: copy before changing it).
    """
    key = tuple([(c.tag, c.text) for c in resource_list])
    cached = shapes.get(key)
    if cached is None:
        res = {tag: (value or "").strip() for tag, value in key}
        shape = job_shape(res) if res else {}
        chunk_list = shape.pop("extra", {}).get("chunk_list")
        values = tuple(shape.get(name, default) for name, default in zip(_SHAPE_FIELDS, _SHAPE_DEFAULTS, strict=True))
        cached = shapes[key] = (values, chunk_list)
    return cached


def parse_qstat(
    data: str | bytes, command: str = "qstat -x -t", priorities: dict[str, float] | None = None
) -> list[Job]:
    """Jobs of ``qstat -x [-t]``.  Empty output is "no jobs" (Torque prints nothing then)."""
    with gc_paused():
        return _parse_qstat(data, command, priorities or {})


def _parse_qstat(data: str | bytes, command: str, priorities: dict[str, float]) -> list[Job]:
    shapes: dict[Any, tuple[tuple[Any, ...], list[list[int]] | None]] = {}  # many jobs share a request
    running, pending, held, other = JobState.RUNNING, JobState.PENDING, JobState.HELD, JobState.OTHER

    def job(elem: Any, number: int, f: dict[str, Any]) -> Job:
        get = f.get
        full = (get("Job_Id") or "").strip()
        if not full:
            raise ParseError(command, data, f"a <Job> without <Job_Id> (record {number})")
        jid = full.partition(".")[0]  # short_id(full), full being stripped
        state_code = (get("job_state") or "").strip()
        extra: dict[str, Any] = {"full_id": full, "state_code": state_code}
        resource_list = get("Resource_List")
        if resource_list is not None:
            shape, chunk_list = _cached_shape(resource_list, shapes)
            if chunk_list:
                extra["chunk_list"] = [list(p) for p in chunk_list]
        else:
            shape = _SHAPE_DEFAULTS
        state = _STATES.get(state_code, other)
        hold = (get("Hold_Types") or "").strip()
        if hold and hold != "n":
            extra["hold_types"] = hold
            if state is pending:
                state = held
        properties, chunks, chunk_cores, chunk_mem_mb, distinct, walltime_s = shape
        is_running = state is running
        return Job(
            id=jid,
            state=state,
            queue=(get("queue") or "").strip(),
            account=(get("Account_Name") or "").strip(),
            owner=(get("Job_Owner") or "").partition("@")[0].strip(),
            name=(get("Job_Name") or "").strip(),
            priority=priorities.get(jid, 0.0),
            submit_time=_epoch(get("ctime")),
            nodes=_exec_nodes(get("exec_host") or "") if is_running else (),
            start_time=_epoch(get("start_time")) if is_running else 0.0,
            # qsub -a: state W until then (held, not demand); when it may start, for the planner's preboot
            begin_time=_epoch(get("Execution_Time")) if state_code == "W" else 0.0,
            extra=extra,
            properties=properties,
            chunks=chunks,
            chunk_cores=chunk_cores,
            chunk_mem_mb=chunk_mem_mb,
            distinct=distinct,
            walltime_s=walltime_s,
        )

    return build_records(data, "Job", "Data", command, job, _QSTAT_FIELDS, ("Resource_List",), allow_empty=True)


_PHYSMEM = re.compile(r"(?:^|,)\s*physmem=([0-9]+)([a-zA-Z]*)")
_TOTMEM = re.compile(r"(?:^|,)\s*totmem=([0-9]+)([a-zA-Z]*)")


def _node_jobs(jobs_text: str) -> tuple[tuple[str, ...], int]:
    """'0/136.srv,1-2/137.srv,0' -> (('136', '137'), 3 slots); '0-1,4/138.srv' -> 3 slots of 138 (Torque 5
    and later list a job's slots before it, commas and all)."""
    ids: list[str] = []
    used = 0
    before: list[str] = []  # slots read ahead of their job
    for entry in jobs_text.replace("\n", ",").split(","):
        entry = entry.strip()
        if "/" not in entry:
            if entry:
                before.append(entry)
            continue
        slots, _, jid = entry.partition("/")
        slots = ",".join([*before, slots])
        before = []
        jid = short_id(jid)
        if jid and jid not in ids:
            ids.append(jid)
        for rng in slots.split(","):
            lo, _, hi = rng.partition("-")
            # a range pbsnodes never prints (9-0) is one slot, not -8: a negative count failed every poll
            used += max(1, to_int(hi, to_int(lo)) - to_int(lo) + 1) if hi else 1
    return tuple(ids), capped(used)


def parse_pbsnodes(data: str | bytes, command: str = "pbsnodes -x") -> list[Node]:
    """Nodes of ``pbsnodes -x``.  Optional fields (ports, ntype, status, gpus ...) may be missing."""
    nodes: list[Node] = []
    for elem in iter_xml(data, "Node", "Data", command):
        name = text(elem, "name")
        if not name:
            raise ParseError(command, data, f"a <Node> without <name> (record {len(nodes) + 1})")
        flags = {s.strip() for s in text(elem, "state").split(",") if s.strip()}
        np_ = to_int(text(elem, "np"))
        jobs, used = _node_jobs(text(elem, "jobs"))
        note = text(elem, "note")
        status = " ".join(text(elem, "status").split())
        m = _PHYSMEM.search(status) or _TOTMEM.search(status)
        memory = mem_mb(m.group(1) + m.group(2), "kb") if m else 0
        hold_reason = ""
        if "offline" in flags:
            state = NodeState.HELD
            hold_reason = note or "offline"
        elif "down" in flags:
            state = NodeState.DOWN
        elif flags & {"state-unknown", "mom-list-not-sent"}:
            state = NodeState.STARTING
        elif flags & {"job-exclusive", "busy", "job-sharing", "reserve"} or jobs:
            state = NodeState.BUSY
        elif "free" in flags:
            state = NodeState.IDLE
        else:
            state = NodeState.UNKNOWN
        extra: dict[str, Any] = {"state_flags": sorted(flags)}
        if note:
            extra["note"] = note
        for opt in ("gpus", "ntype", "mom_service_port", "mom_manager_port", "power_state"):
            value = text(elem, opt)
            if value:
                extra[opt] = value
        nodes.append(
            Node(
                name=name,
                state=state,
                cores=np_,
                cores_used=min(used, np_) if np_ else used,
                mem_mb=memory,
                jobs=jobs,
                properties=split_list(text(elem, "properties")),
                hold_reason=hold_reason,
                extra=extra,
            )
        )
    return nodes


class TorqueAdapter(Adapter):
    """Torque + MAUI as sequences of commands (see the module doc for what was verified)."""

    kind = "torque"
    node_word = "Torque node"
    config_type = TorqueConfig
    config: TorqueConfig
    worker_daemon = "pbs_mom"

    def __init__(
        self,
        config: TorqueConfig | Mapping[str, Any],
        run: Run,
        sleep: Callable[[float], None] | None = None,
        create_tries: int = 5,
        checknode_wait: float = 60.0,
        retry_pause: float = 2.0,
    ) -> None:
        super().__init__(config, run, sleep)
        self.create_tries = create_tries
        self.checknode_wait = checknode_wait
        self.retry_pause = retry_pause

    # ------------------------------------------------------------ queries
    def priorities(self) -> dict[str, float]:
        """MAUI's priorities of the idle jobs (``diagnose -p``); raises when MAUI does not answer."""
        argv = self.argv("diagnose_p_command")
        return maui.parse_diagnose_p(self.output(argv), " ".join(argv))

    def jobs(self) -> list[Job]:
        """The jobs, with MAUI's priorities.  ``diagnose -p`` runs every poll, also with no job queued: it is
        the poll's health check of MAUI.  pbs_server answers ``qstat`` and ``pbsnodes`` while MAUI, which
        decides where and when every job starts, is down or wedged; a poll that then looked fine would let
        the planner retire the "idle" workers MAUI was about to use.  So MAUI failing fails the poll, as a
        failed ``squeue`` or ``qstat`` does for Slurm and Grid Engine, whose daemons do their own scheduling."""
        argv = self.argv("qstat_command")
        out = self.output(argv)
        prios = self.priorities()  # raises when MAUI does not answer: the poll failed
        # the priorities go into the parse: a copy of each job afterwards cost 0.3 s at 50,000 (issue 15)
        return self.filter_jobs(parse_qstat(out, " ".join(argv), prios))

    def nodes(self) -> list[Node]:
        argv = self.argv("pbsnodes_command", "-x", "")
        return parse_pbsnodes(self.output(argv), " ".join(argv))

    def node(self, name: str) -> Node | None:
        check_host(name)
        argv = self.argv("pbsnodes_command", "-x", name)
        rc, out, err = self.call(argv, check=False)
        if rc != 0:
            if "unknown node" in (err + out).lower():
                return None
            raise SchedulerError(argv, rc, err or out)
        key = host_key(name)  # pbs_server may print its resolver's name for the node (a domain, another case)
        found = [n for n in parse_pbsnodes(out, " ".join(argv)) if host_key(n.name) == key]
        return found[0] if found else None

    def reservations(self, name: str | None = None) -> list[maui.Reservation]:
        argv = self.argv("showres_command")
        res = maui.parse_showres_n(self.output(argv), " ".join(argv))
        return [r for r in res if name is None or r.node == name]

    def check(self) -> dict[str, Any]:
        """pbs_server answers ``pbsnodes -x`` and MAUI ``diagnose -p`` (for operators: the engine's poll runs
        both anyway, see :meth:`jobs`)."""
        problems = []
        try:
            self.nodes()
        except SchedulerError as exc:
            problems.append(f"pbs_server: {exc}")
        try:
            argv = self.argv("diagnose_p_command")
            maui.parse_diagnose_p(self.output(argv), " ".join(argv))
        except SchedulerError as exc:
            problems.append(f"maui: {exc}")
        return {"healthy": not problems, "scheduler": self.kind, "problems": problems}

    # ------------------------------------------------------------ actions
    def _qmgr_set(self, name: str, attr: str, op: str, value: object) -> None:
        self.call(self.argv("set_node_command", name, attr, op, value))

    def add_node(
        self,
        name: str,
        cores: int,
        mem_mb: int = 0,
        reservation: Any = None,
        properties: Iterable[str] = (),
        address: str | None = None,
    ) -> dict[str, Any]:
        """qmgr create node; np; properties; wait for MAUI (checknode); setres; state=free.

        ``address`` is not used: pbs_server reaches its nodes by name."""
        check_host(name)
        cores = int(cores)
        if cores < 1:
            raise RefusedError("add_node", f"cores must be at least 1, not {cores}")
        queue, account, given = reservation_fields(reservation)
        queue, account = (check_group(v) if v else None for v in (queue, account))
        props = [check_group(p) for p in dict.fromkeys((*properties, *given))]
        argv = self.argv("add_node_command", name)
        for attempt in range(1, self.create_tries + 1):
            rc, out, err = self.call(argv, check=False)
            if rc == 0 or "already exists" in (err + out).lower():
                break
            if attempt == self.create_tries:
                raise SchedulerError(argv, rc, err or out, f"failed {attempt} times")
            self.sleep(self.retry_pause)
        self._qmgr_set(name, "np", "=", cores)
        if props:
            self._qmgr_set(name, "properties", "=", ",".join(props))
        self._wait_maui(name)
        self.set_reservation(name, queue=queue, account=account)
        self._qmgr_set(name, "state", "=", "free")
        return {"name": name, "cores": cores, "properties": props, "queue": queue, "account": account}

    def _wait_maui(self, name: str) -> str:
        argv = self.argv("check_node_command", name)
        deadline = time.monotonic() + self.checknode_wait
        while True:
            rc, out, err = self.call(argv, check=False)
            if rc == 0:
                return maui.parse_checknode(out, " ".join(argv))
            if time.monotonic() >= deadline:
                raise SchedulerError(argv, rc, err or out, f"MAUI did not learn of {name} in {self.checknode_wait:g} s")
            self.sleep(self.retry_pause)

    def set_reservation(
        self, name: str, queue: str | None = None, account: str | None = None, properties: Iterable[str] = ()
    ) -> list[list[str]]:
        """MAUI standing reservation of the node for a queue (-q) and/or an account (-a).

        Properties are given to a node when it is added (``qmgr set node properties``) only."""
        check_host(name)
        if tuple(properties):
            raise RefusedError("set_reservation", f"{name}: Torque properties are set by add_node only")
        done = []
        for opt, value in (("-q", queue), ("-a", account)):
            if not value:
                continue
            argv = self.argv("setres_command", opt, check_group(value), name)
            for attempt in range(1, self.create_tries + 1):
                rc, out, err = self.call(argv, check=False)
                if rc == 0:
                    break
                if attempt == self.create_tries:
                    raise SchedulerError(argv, rc, err or out, f"failed {attempt} times")
                self.sleep(self.retry_pause)
            done.append(argv)
        return done

    def hold(self, name: str, reason: str = DEFAULT_HOLD_REASON) -> None:
        """Mark the node offline with a note; dcluster's notes start with 'dcluster'."""
        check_host(name)
        check_reason(reason)
        self.call(self.argv("pbsnodes_command", "-o", "") + ["-N", reason, name])

    def release(self, name: str, force: bool = False) -> None:
        """Clear our hold (offline flag and note).  An admin's hold is left alone unless ``force``."""
        self.releasable(name, force)
        self.call(self.argv("pbsnodes_command", "-c", "") + ["-N", "", name])

    def _known(self, name: str) -> Node:
        node = self.node(name)
        if node is None:
            raise RefusedError("pbsnodes", f"{name} is not a Torque node")
        return node

    def remove(self, name: str, wait: float = 0.0) -> dict[str, Any]:
        """Release MAUI reservations on the node, mark it offline, delete it.  Refused while it runs jobs
        (after waiting up to ``wait`` s for them: hold it first)."""
        node = self.wait_for_jobs(name, self.node(name), wait)
        if node is None:
            return {"name": name, "removed": False, "reason": "not a node"}
        if node.jobs:
            raise RefusedError("remove", f"{name} still runs jobs {', '.join(node.jobs)}")
        released = []
        for res in self.reservations(name):
            if res.type.lower() == "job":
                continue
            self.call(self.argv("releaseres_command", res.id))
            released.append(res.id)
        if node.state != NodeState.HELD:
            self.call(self.argv("pbsnodes_command", "-o", "") + ["-N", DEFAULT_HOLD_REASON + " (removing)", name])
        self.call(self.argv("remove_node_command", name))
        return {"name": name, "removed": True, "released_reservations": released}

    def vacate(self, name: str) -> list[str]:
        """Kill the node's jobs: qsig -s 9, then qdel -p (purge).  Returns the job ids."""
        node = self._known(name)
        for jid in node.jobs:
            check_jobid(jid)
            self.call(self.argv("signal_job_command", "9", jid), check=False)
            self.call(self.argv("delete_job_command", jid))
        return list(node.jobs)

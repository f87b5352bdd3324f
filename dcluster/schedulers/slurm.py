"""Slurm: ``squeue --json``, ``sinfo --json``, dynamic nodes with ``scontrol create/delete nodename``.

Verified against a real Slurm 22.05.8 (Debian ``slurm-wlm``, openapi
v0.0.38 output) by the daemon tests; the parsers also read the 21.08
(v0.0.37) and 25.05 (v0.0.43: numbers as ``{"set", "infinite", "number"}``,
states as lists) shapes of the recorded outputs.  ``scontrol --json`` does
not exist in 22.05, so the adapter never needs it.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import time
from collections.abc import Iterable, Sequence
from typing import Any

from dcluster.config.schedulers import SchedulerConfig, SlurmConfig
from dcluster.holds import DEFAULT_HOLD_REASON
from dcluster.model import Job, JobState, Node, NodeState
from dcluster.names import NameError_, check_address
from dcluster.wire import LARGEST

from .adapter import Adapter
from .errors import ParseError, RefusedError, SchedulerError
from .sge import MAX_ARRAY_TASKS, array_share, expand_tasks
from .units import capped, split_list
from .validate import check_group, check_host, check_jobid, check_reason, reservation_fields
from .xml_stream import has_content

log = logging.getLogger(__name__)

# Host names one job's node list may expand to: more is no cluster's (squeue's "nodes": "n[0-999999999]" was
# expanded, name by name, until the master ran out of memory)
MAX_HOSTLIST = 100_000
MAX_HOSTNAME = 255  # a DNS name has at most 253 characters
HELD_REASONS = {
    "JobHeldUser",
    "JobHeldAdmin",
    "Dependency",
    "DependencyNeverSatisfied",
    "BeginTime",
    "JobArrayTaskLimit",
    "PartitionDown",
    "PartitionInactive",
    "InvalidAccount",
    "InvalidQOS",
}
_RUNNING = {"RUNNING", "CONFIGURING", "COMPLETING", "STAGE_OUT", "SIGNALING", "RESIZING"}


def num(value: Any, default: int | float | None = 0) -> Any:
    """A number of any openapi version: 5, {"set": true, "number": 5}, None."""
    if isinstance(value, dict):
        if not value.get("set", True) or value.get("infinite"):
            return default
        value = value.get("number", default)
    if value is None or isinstance(value, bool):
        return default
    # Every number read with this is a count, a size, a time or a priority: none is negative (a negative one
    # passed the master's own parse and failed a head minion's every poll) nor beyond Slurm's NO_VAL64
    # (2**64 - 2; float() of a bigger one overflows), nor JSON's 1e999 or NaN
    if isinstance(value, int):
        return value if 0 <= value <= LARGEST else default
    if isinstance(value, float):
        return value if math.isfinite(value) and value >= 0 else default
    if default is None:
        return None  # a number only when the output has one
    try:
        return num(type(default)(value), default)  # "1e999", "NaN", "1" * 400: no number either
    except (TypeError, ValueError):
        return default


def states(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v).upper() for v in value]
    if not value:
        return []
    return [s.upper() for s in re.split(r"[+,]", str(value)) if s]


def expand_hostlist(expr: str) -> list[str]:
    """'cn[1-3,7],gpu1' -> ['cn1', 'cn2', 'cn3', 'cn7', 'gpu1'] (zero padding kept)."""
    out: list[str] = []
    _expand(expr or "", out, [MAX_HOSTLIST], expr or "")
    return out


def _expand(expr: str, out: list[str], budget: list[int], whole: str) -> None:
    """expand_hostlist onto ``out``.  Every name costs one of ``budget``, and a range never yields none
    (backwards, it is refused: "n[0-99999][0-99999][1-0]", 24 bytes, was 10**10 calls that made no name);
    no host name is longer than MAX_HOSTNAME (one of 20 kB, 100,000 times, was 2 GB).  The text is read once,
    left to right (a regular expression rescanned an unclosed "[" from every "[": 128 kB took 3 s)."""
    for part in _top_level(expr):
        open_ = part.find("[")
        if open_ < 0:
            if len(part) > MAX_HOSTNAME:
                raise ValueError(f"host name {part[:40]!r}... of more than {MAX_HOSTNAME} characters")
            budget[0] -= 1
            if budget[0] < 0:
                raise ValueError(f"host list {whole[:60]!r} of more than {MAX_HOSTLIST} names")
            out.append(part)
            continue
        close = part.find("]", open_)
        if close < 0:
            raise ValueError(f"host list {part[:40]!r}... with an unclosed '['")
        prefix, ranges, suffix = part[:open_], part[open_ + 1 : close], part[close + 1 :]
        if len(prefix) + len(suffix) > MAX_HOSTNAME:
            raise ValueError(f"host name {part[:40]!r}... of more than {MAX_HOSTNAME} characters")
        for rng in ranges.split(","):
            lo, _, hi = rng.partition("-")
            first, last = int(lo), int(hi or lo)
            if last < first:
                raise ValueError(f"host range [{rng[:40]}] runs backwards")
            if last - first >= budget[0]:  # more names than are left: no need to make them first
                raise ValueError(f"host list {whole[:60]!r} of more than {MAX_HOSTLIST} names")
            if not hi:
                _expand(prefix + lo + suffix, out, budget, whole)
                continue
            for i in range(first, last + 1):
                _expand(f"{prefix}{i:0{len(lo)}d}{suffix}", out, budget, whole)


def _top_level(expr: str) -> list[str]:
    """``expr`` split at its commas outside brackets: "cn[1-3,7],gpu1" -> ["cn[1-3,7]", "gpu1"]."""
    parts, depth, begin = [], 0, 0
    for i, ch in enumerate(expr):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0:
            parts.append(expr[begin:i])
            begin = i + 1
    parts.append(expr[begin:])
    return [p for p in parts if p]


def _load(data: str | bytes, key: str, command: str) -> list[dict[str, Any]]:
    if data is None or not has_content(data):
        raise ParseError(command, data, "empty output")
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise ParseError(command, data, f"invalid JSON ({exc})") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get(key), list):
        raise ParseError(command, data, f"no {key!r} list in the JSON document")
    errors = [e for e in (doc.get("errors") or []) if e]
    if errors and not doc[key]:
        raise ParseError(command, data, f"Slurm reported errors: {errors!r:.200}")
    records: list[dict[str, Any]] = doc[key]
    return records


def _tres(text: str) -> dict[str, str]:
    return dict(p.split("=", 1) for p in (text or "").split(",") if "=" in p)


def _constraint(value: Any) -> str:
    """A job's constraint (squeue's ``features``) as Slurm shows it: a string, or a list of names (AND)."""
    if isinstance(value, list):
        return "&".join(str(v) for v in value if v)
    return str(value or "").strip()


def _features(constraint: str) -> tuple[str, ...]:
    """The feature names a constraint mentions ('a&b', '[a|b]', 'a*2'), for display; what the job
    requires is the whole expression (Job.constraint, read by dcluster.constraint)."""
    names = (re.sub(r"\*[0-9]+$", "", t.strip()) for t in re.split(r"[&,|\[\]()]+", constraint))
    return tuple(dict.fromkeys(t for t in names if t))


def _job_state(raw: dict[str, Any]) -> tuple[JobState, str]:
    st = states(raw.get("job_state"))
    base = st[0] if st else ""
    reason = str(raw.get("state_reason") or "")
    if base == "PENDING":
        if reason in HELD_REASONS or num(raw.get("priority")) == 0 and reason.startswith("JobHeld"):
            return JobState.HELD, base
        return JobState.PENDING, base
    if base in _RUNNING:
        return JobState.RUNNING, base
    return JobState.OTHER, base


def _begin_time(raw: dict[str, Any], state: JobState, now: float) -> float:
    """When a job that may not start yet may start (``--begin``), from squeue's ``eligible_time``: a
    held job's with reason BeginTime, and a pending one's whose eligible time is still ahead of ``now``
    (slurmctld shows reason None until it has looked at a new job: seen end to end, an --begin job
    submitted a poll earlier was listed pending, and a node was launched for it 75 s before its time).
    0.0 for any other job, or a time that is no finite positive number."""
    reason = raw.get("state_reason")
    if not (state == JobState.HELD and reason == "BeginTime" or state == JobState.PENDING):
        return 0.0
    when = float(num(raw.get("eligible_time"), 0))  # num: a finite number from 0 to 2**64, else 0
    if when <= 0:
        return 0.0
    return when if state == JobState.HELD or when > now + 1 else 0.0


def _throttle(raw: dict[str, Any], spec: str) -> int:
    """An array's limit of tasks running at once (``--array=1-100%N``): array_max_tasks, or the task
    string's ``%N``; 0: none."""
    limit = num(raw.get("array_max_tasks"), 0)
    if not limit and "%" in spec:
        limit = num(spec.split("%", 1)[1].strip(), 0)
    return int(limit) if limit >= 1 else 0  # num: a finite number from 0 to 2**64, else 0


def _running_tasks(records: list[dict[str, Any]]) -> dict[int, int]:
    """Array job id -> how many of its tasks run (each a record of its own)."""
    out: dict[int, int] = {}
    for raw in records:
        if isinstance(raw, dict) and raw.get("array_task_id") is not None and _job_state(raw)[0] == JobState.RUNNING:
            array_job = int(num(raw.get("array_job_id"), 0))
            out[array_job] = out.get(array_job, 0) + 1
    return out


def parse_squeue(data: str | bytes, command: str = "squeue --all --json", now: float | None = None) -> list[Job]:
    """Jobs of ``squeue --json``; a pending array's tasks become one job each (``<id>_<task>``).  ``now``
    (default: this host's clock, which is slurmctld's on the head) tells a start time still ahead."""
    now = time.time() if now is None else now
    jobs: list[Job] = []
    records = _load(data, "jobs", command)
    running: dict[int, int] | None = None  # array job id -> its tasks running; counted at the first throttle
    share = array_share(sum(1 for raw in records if isinstance(raw, dict) and raw.get("array_task_string")))
    for i, raw in enumerate(records, 1):
        if not isinstance(raw, dict) or "job_id" not in raw:
            raise ParseError(command, data, f"a job without job_id (record {i})")
        try:
            running = _parse_job(raw, records, running, now, jobs, share)
        except (TypeError, ValueError, AttributeError, OverflowError) as exc:
            raise ParseError(command, data, f"job {str(raw['job_id'])[:40]} (record {i}): {exc}") from None
    return jobs


def _parse_job(
    raw: dict[str, Any],
    records: list[Any],
    running: dict[int, int] | None,
    now: float,
    jobs: list[Job],
    share: int = MAX_ARRAY_TASKS,
) -> dict[int, int] | None:
    """One record of ``squeue --json`` onto ``jobs`` (an array's pending tasks one job each, at most
    ``share`` of them: sge.array_share); returns the array tasks running, once counted."""
    state, base = _job_state(raw)
    cpus = max(1, int(num(raw.get("cpus"), 1)))
    count = max(1, int(num(raw.get("node_count"), 0) or num(_tres(raw.get("tres_req_str", "")).get("node"), 1)))
    count = min(count, cpus)
    chunk_cores = max(1, math.ceil(cpus / count))
    mem = int(num(raw.get("memory_per_node"), 0))
    if not mem and num(raw.get("memory_per_cpu"), 0):
        mem = capped(int(num(raw.get("memory_per_cpu"), 0)) * chunk_cores)
    limit = num(raw.get("time_limit"), 0)
    array_job = int(num(raw.get("array_job_id"), 0))
    task = raw.get("array_task_id")
    task = num(task, None) if isinstance(task, dict) else task
    base_id = str(raw["job_id"])
    constraint = _constraint(raw.get("features"))
    extra: dict[str, Any] = {"state_code": base, "reason": raw.get("state_reason", "")}
    begin = _begin_time(raw, state, now)
    if begin and state == JobState.PENDING:
        state = JobState.HELD  # not demand until then: preboot_begin_jobs counts it within its lead
    ids = [base_id]
    may = 1  # how many of ids keep the record's state (the others wait for the array's throttle)
    if array_job and task is not None:
        ids = [f"{array_job}_{task}"]
    elif raw.get("array_task_string") and state in (JobState.PENDING, JobState.HELD):
        spec = str(raw["array_task_string"])
        tasks, beyond = expand_tasks(spec.split("%", 1)[0], share)
        ids = [f"{array_job or base_id}_{t}" for t in tasks] or [base_id]
        if beyond:
            extra["tasks_not_listed"] = beyond
        may = len(ids)
        if throttle := _throttle(raw, spec):
            # --array=...%N: Slurm runs N tasks at once; the rest are no demand (JobArrayTaskLimit) yet
            running = _running_tasks(records) if running is None else running
            may = max(0, throttle - running.get(array_job or int(num(base_id, 0)), 0))
    for k, jid in enumerate(ids):
        waits = k >= may
        jobs.append(
            Job(
                id=jid,
                state=JobState.HELD if waits else state,
                queue=str(raw.get("partition") or ""),
                account=str(raw.get("account") or ""),
                properties=_features(constraint),
                constraint=constraint,
                owner=str(raw.get("user_name") or ""),
                name=str(raw.get("name") or ""),
                priority=float(num(raw.get("priority"), 0)),
                chunks=count,
                chunk_cores=chunk_cores,
                chunk_mem_mb=mem,
                distinct=True,
                walltime_s=capped(int(limit) * 60) if limit else 0,
                submit_time=float(num(raw.get("submit_time"), 0)),
                nodes=tuple(expand_hostlist(str(raw.get("nodes") or ""))) if state == JobState.RUNNING else (),
                start_time=float(num(raw.get("start_time"), 0)) if state == JobState.RUNNING else 0.0,
                begin_time=0.0 if waits else begin,
                extra={**extra, "reason": "JobArrayTaskLimit"} if waits else dict(extra),
            )
        )
    return running


def parse_sinfo(data: str | bytes, jobs: Iterable[Job] = (), command: str = "sinfo --json") -> list[Node]:
    """Nodes of ``sinfo --json``; ``jobs`` (running ones) fill ``Node.jobs``."""
    on_node: dict[str, list[str]] = {}
    for job in jobs:
        if job.state == JobState.RUNNING:
            for n in job.nodes:
                on_node.setdefault(n, []).append(job.id)
    out: dict[str, Node] = {}
    for raw in _load(data, "nodes", command):
        name = raw.get("name") if isinstance(raw, dict) else None
        if not name:
            raise ParseError(command, data, f"a node without name (record {len(out) + 1})")
        if name in out:
            continue
        st = states(raw.get("state")) + states(raw.get("state_flags"))
        base = st[0] if st else "UNKNOWN"
        flags = set(st[1:]) | ({base} if base else set())
        reason = str(raw.get("reason") or "")
        cores = int(num(raw.get("cpus"), 0))
        used = int(num(raw.get("alloc_cpus"), 0))
        jobs_here = tuple(on_node.get(name, ()))
        hold_reason = ""
        if flags & {"DRAIN", "DRAINING", "DRAINED"}:
            state, hold_reason = NodeState.HELD, reason or "drained"
        elif flags & {"NOT_RESPONDING"} or base in {"DOWN", "ERROR", "FAIL", "FAILING"}:
            state = NodeState.DOWN
            hold_reason = reason
        elif flags & {"POWERING_UP", "FUTURE"} or base == "FUTURE":
            state = NodeState.STARTING
        elif flags & {"POWERED_DOWN", "POWERING_DOWN", "POWER_DOWN"}:
            state = NodeState.DOWN
        elif base in {"ALLOCATED", "MIXED", "COMPLETING"} or used or jobs_here:
            state = NodeState.BUSY
        elif base == "IDLE":
            state = NodeState.IDLE
        else:
            state = NodeState.UNKNOWN
        since = num(raw.get("reason_changed_at"), 0) if hold_reason else 0
        out[name] = Node(
            name=name,
            state=state,
            cores=cores,
            cores_used=used,
            mem_mb=int(num(raw.get("real_memory"), 0)),
            jobs=jobs_here,
            properties=_node_features(raw),
            hold_reason=hold_reason,
            state_since=float(since) if since else None,
            extra={
                "state_flags": sorted(flags),
                "partitions": list(raw.get("partitions") or []),
                "address": raw.get("address", ""),
            },
        )
    return list(out.values())


_KV = re.compile(r"(\w+)=(\S*)")


def parse_future_nodes(output: str, command: str = "scontrol --future show node -o") -> list[Node]:
    """FUTURE nodes of ``scontrol --future show node -o`` (one line per node), as STARTING nodes.

    sinfo hides FUTURE nodes: a node we created that has not registered yet
    is only seen here.
    """
    out = []
    for line in (output or "").splitlines():
        if not line.startswith("NodeName="):
            continue
        kv = dict(_KV.findall(line))
        if "FUTURE" not in states(kv.get("State")):
            continue
        out.append(
            Node(
                name=kv["NodeName"],
                state=NodeState.STARTING,
                cores=num(kv.get("CPUTot"), 0),
                mem_mb=num(kv.get("RealMemory"), 0),
                properties=split_list(kv.get("ActiveFeatures") or kv.get("AvailableFeatures")),
                extra={
                    "state_flags": states(kv.get("State")),
                    "partitions": split_list(kv.get("Partitions")),
                    "address": kv.get("NodeAddr", ""),
                },
            )
        )
    return out


def _node_features(raw: dict[str, Any]) -> tuple[str, ...]:
    feats = raw.get("active_features") or raw.get("features")
    return tuple(str(f) for f in feats if f) if isinstance(feats, list) else split_list(feats)


# What a worker's slurmd may be told of itself: names and numbers, never a second argument.
_WORD = re.compile(r"^[A-Za-z0-9_.:-]+$")


class SlurmAdapter(Adapter):
    kind = "slurm"
    node_word = "Slurm node"
    config_type = SlurmConfig
    config: SlurmConfig
    worker_daemon = "slurmd"
    takes_address = True  # a dynamic node gets its NodeAddr: Slurm needs no name resolution
    resolves_names = False

    @classmethod
    def offered(cls, config: SchedulerConfig, reservation: Any) -> frozenset[str]:
        """The reservation's properties, ``node_feature`` and the reserved queue's name (node features)."""
        queue, _account, props = reservation_fields(reservation)
        feature = config.node_feature if isinstance(config, SlurmConfig) else ""
        return frozenset(f for f in (feature, *props, queue) if f)

    @classmethod
    def worker_args(
        cls, name: str, cores: int | None, mem_mb: int | None, features: Sequence[str], conf: str | None
    ) -> list[str]:
        """``slurmd [-f conf] -N name -Z --conf "CPUs=.. RealMemory=.. Feature=.."``: a dynamic node
        registers itself."""
        if not cores or int(cores) < 1:
            raise ValueError("slurm: cores must be given (the node registers itself with slurmd -Z)")
        spec = [f"CPUs={int(cores)}"]
        if mem_mb:
            spec.append(f"RealMemory={int(mem_mb)}")
        feats = [str(f) for f in features or ()]
        for f in feats:
            if not _WORD.fullmatch(f):
                raise ValueError(f"slurm: feature {f!r}: letters, digits and _.:- only")
        if feats:
            spec.append("Feature=" + ",".join(feats))
        argv = ["-f", str(conf)] if conf else []
        return argv + ["-N", name, "-Z", "--conf", " ".join(spec)]

    def scontrol(self, *args: str) -> list[str]:
        return self.cmd("scontrol_command").render() + list(args)

    def _sibling(self, program: str) -> str:
        base = self.cmd("scontrol_command").argv[0]
        return os.path.join(os.path.dirname(base), program) if os.path.dirname(base) else program

    # ------------------------------------------------------------ queries
    def _all_jobs(self) -> list[Job]:
        argv = self.argv("squeue_command")
        return parse_squeue(self.output(argv), " ".join(argv))

    def jobs(self) -> list[Job]:
        return self.filter_jobs(self._all_jobs())

    def nodes(self) -> list[Node]:
        argv = self.argv("sinfo_command")
        out = self.output(argv)
        nodes = parse_sinfo(out, self._all_jobs(), " ".join(argv))
        known = {n.name for n in nodes}
        future = self.scontrol("--future", "show", "node", "-o")
        rc, text, err = self.call(future, check=False)
        if rc == 0:
            nodes += [n for n in parse_future_nodes(text, " ".join(future)) if n.name not in known]
        else:
            log.warning("slurm: FUTURE nodes not listed: %s", (err or text).strip()[:300])
        return nodes

    def check(self) -> dict[str, Any]:
        problems = []
        argv = self.scontrol("ping")
        try:
            out = self.output(argv)
            if "is UP" not in out:
                problems.append(f"{' '.join(argv)!r}: {out.strip()[:300]!r}")
        except SchedulerError as exc:
            problems.append(str(exc))
        return {"healthy": not problems, "scheduler": self.kind, "problems": problems}

    # ------------------------------------------------------------ actions
    def _features_for(self, reservation: Any, properties: Iterable[str]) -> list[str]:
        queue, _account, props = reservation_fields(reservation)
        feats = [self.config.node_feature]
        for f in (*properties, *props, queue):
            if f and f not in feats:
                feats.append(check_group(f))
        return feats

    def add_node(
        self,
        name: str,
        cores: int,
        mem_mb: int = 0,
        reservation: Any = None,
        properties: Iterable[str] = (),
        address: str | None = None,
    ) -> dict[str, Any]:
        """A dynamic node: ``scontrol create nodename=X ... state=future``.

        A node that registered by itself (``slurmd -Z``) is only given our
        features.  The feature ``node_feature`` puts it into the partition
        whose NodeSet selects that feature.
        """
        check_host(name)
        cores = int(cores)
        if cores < 1:
            raise RefusedError("add_node", f"cores must be at least 1, not {cores}")
        feats = self._features_for(reservation, properties)
        existing = self.node(name)
        if existing is not None:
            have = list(existing.properties)
            merged = have + [f for f in feats if f not in have]
            if merged != have:
                self.call(
                    self.scontrol(
                        "update",
                        f"nodename={name}",
                        f"availablefeatures={','.join(merged)}",
                        f"activefeatures={','.join(merged)}",
                    )
                )
            result = {"name": name, "created": False, "features": merged}
        else:
            argv = self.scontrol(
                "create", f"nodename={name}", f"cpus={cores}", f"features={','.join(feats)}", "state=future"
            )
            if mem_mb:
                argv.insert(-1, f"realmemory={int(mem_mb)}")
            if address:
                # From the cloud's answer: an IP literal only, never a second argument or a host name
                # that would itself need resolving; NodeHostname is the node's own name (its minion id).
                try:
                    address = check_address(address, f"add_node {name}: address")
                except NameError_ as exc:
                    raise RefusedError("add_node", str(exc)) from None
                argv[-1:-1] = [f"nodeaddr={address}", f"nodehostname={name}"]
            self.call(argv)
            result = {"name": name, "created": True, "features": feats}
        _queue, account, _props = reservation_fields(reservation)
        if account:
            self.set_reservation(name, account=account)
            result["account"] = account
        return result

    def set_reservation(
        self, name: str, queue: str | None = None, account: str | None = None, properties: Iterable[str] = ()
    ) -> dict[str, Any]:
        """Queue/properties become node features; an account gets a Slurm reservation of the node."""
        check_host(name)
        done: dict[str, Any] = {"name": name}
        extra = [f for f in (queue, *properties) if f]
        if extra:
            node = self.node(name)
            have = list(node.properties) if node else []
            merged = have + [check_group(f) for f in dict.fromkeys(extra) if f not in have]
            self.call(
                self.scontrol(
                    "update",
                    f"nodename={name}",
                    f"availablefeatures={','.join(merged)}",
                    f"activefeatures={','.join(merged)}",
                )
            )
            done["features"] = merged
        if account:
            check_group(account)
            self.call(
                self.scontrol(
                    "create",
                    "reservation",
                    f"reservationname=dcluster_{name}",
                    f"accounts={account}",
                    f"nodes={name}",
                    "starttime=now",
                    "duration=infinite",
                    "flags=ignore_jobs",
                )
            )
            done["reservation"] = f"dcluster_{name}"
        return done

    def hold(self, name: str, reason: str = DEFAULT_HOLD_REASON) -> None:
        """Drain the node with our reason (Slurm keeps it: ``nodes()`` reports it back)."""
        check_host(name)
        check_reason(reason)
        self.call(self.scontrol("update", f"nodename={name}", "state=drain", f"reason={reason}"))

    def release(self, name: str, force: bool = False) -> None:
        """Resume a node we drained; an admin's drain is left alone unless ``force``."""
        node = self.releasable(name, force)
        if node.state in (NodeState.HELD, NodeState.DOWN):
            self.call(self.scontrol("update", f"nodename={name}", "state=resume"))

    def remove(self, name: str, wait: float = 0.0) -> dict[str, Any]:
        """``scontrol delete nodename`` (dynamic nodes only); refused while the node runs jobs (after
        waiting up to ``wait`` s for them: drain it first)."""
        node = self.wait_for_jobs(name, self.node(name), wait)
        if node is None:
            # sinfo does not list it (a partition it hides, a wrong answer): squeue must not show a job there
            busy = [j.id for j in self.jobs() if j.state == JobState.RUNNING and name in j.nodes]
            if busy:
                raise RefusedError("remove", f"{name} is not listed by sinfo but squeue shows jobs {', '.join(busy)}")
            return {"name": name, "removed": False, "reason": "not a node"}
        if node.jobs or node.cores_used:
            raise RefusedError("remove", f"{name} still runs jobs {', '.join(node.jobs) or '(allocated cpus)'}")
        argv = self.scontrol("delete", "reservation", f"reservationname=dcluster_{name}")
        self.call(argv, check=False)  # only there when an account reservation was made
        self.call(self.scontrol("delete", f"nodename={name}"))
        return {"name": name, "removed": True}

    def vacate(self, name: str) -> list[str]:
        """Requeue the node's jobs (``scontrol requeue``); jobs that cannot be requeued are cancelled."""
        node = self.node(name)
        if node is None:
            raise RefusedError("vacate", f"{name} is not a Slurm node")
        for jid in node.jobs:
            check_jobid(jid)
            rc, out, err = self.call(self.scontrol("requeue", jid), check=False)
            if rc != 0:
                log.info("slurm: %s cannot be requeued (%s); cancelling it", jid, (err or out).strip()[:200])
                self.call([self._sibling("scancel"), jid])
        return list(node.jobs)

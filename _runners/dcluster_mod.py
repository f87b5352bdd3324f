"""
dcluster: the operator's interface to the autoscaling engine.

Read-only functions show the engine's live state (published every cycle);
actions are carried out by the engine itself.  Every REST endpoint of the
original Dynamic Cluster has an equivalent here (see README, "Runners").  A
function that cannot do what was asked (no engine, a refused command, bad
arguments) raises CommandExecutionError, so ``salt-run`` exits non-zero and
salt-api reports a failure.  The reactor's callbacks are the ``dcluster_reactor``
runner (``_runners/dcluster_reactor.py``).

CLI Example:

.. code-block:: bash

    salt-run dcluster.status
    salt-run dcluster.launch nectar count=2
"""

import functools
import logging
from typing import TYPE_CHECKING, Any

log = logging.getLogger(__name__)

__virtualname__ = "dcluster"

if TYPE_CHECKING:
    __opts__: dict[str, Any]
    __salt__: dict[str, Any]

try:
    from salt.exceptions import CommandExecutionError

    import dcluster.config as dconfig
    from dcluster.glue import dashboard, operator_views
    from dcluster.glue import engine_client as rc

    HAS_DCLUSTER = True
except ImportError as _exc:  # pragma: no cover
    HAS_DCLUSTER = False
    _IMPORT_ERROR = str(_exc)


def __virtual__():
    if not HAS_DCLUSTER:
        return (False, f"the dcluster runner needs the dcluster library installed on the master: {_IMPORT_ERROR}")
    return __virtualname__


def _state():
    return rc.published(__opts__)


def _needs_engine(fn):
    """Read-only runners raise, naming the function, when the engine has published nothing yet."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except rc.EngineUnavailable as exc:
            raise CommandExecutionError(f"dcluster.{fn.__name__}: {exc}") from None

    return wrapper


def _call(cmd, **args):
    return _ask(cmd, args)


def _ask(cmd, args, **call_kw):
    """The engine's answer to an operator command; raises when there is no engine or it refused."""
    try:
        out = rc.call(__opts__, cmd, args, **call_kw)
    except rc.EngineUnavailable as exc:
        raise CommandExecutionError(f"dcluster.{cmd}: {exc}") from None
    if not isinstance(out, dict) or not out.get("ok"):
        why = out.get("message") if isinstance(out, dict) else None
        raise CommandExecutionError(f"dcluster.{cmd}: {why or 'the engine gave no answer'}")
    return out


def status():
    """
    One screen: resources (min/current/max, backoff, bootstrap breaker), workers by state with
    age and reason, pending demand, recent errors.

    CLI Example:

    .. code-block:: bash

        salt-run dcluster.status
    """
    try:
        data = _state()
    except rc.EngineUnavailable as exc:
        raise CommandExecutionError(f"dcluster.status: {exc}") from None
    try:
        workers_now = rc.workers(__opts__)
    except rc.EngineUnavailable:
        workers_now = []  # the summary is there: its cycle's workers are being written
    return operator_views.status(data, workers_now)


@_needs_engine
def workers(state=None, resource=None, name=None):
    """
    Workers with their state, age, reason, jobs and instance (original: GET /workernode[?state], /workernode/<h>).

    CLI Example:

    .. code-block:: bash

        salt-run dcluster.workers state=idle
    """
    out = []
    for w in rc.workers(__opts__):
        if state and w["state"] != state:
            continue
        if resource and w["resource"] != resource:
            continue
        if name and w["name"] != name:
            continue
        out.append(w)
    return out


@_needs_engine
def jobs(state="pending", id=None, limit=None, offset=0):  # noqa: A002 - the runner's parameter name (salt-run dcluster.jobs id=...)
    """
    Jobs the engine last saw (original: GET /job, /job/<id>).  ``state=all`` lists every state;
    ``offset`` and ``limit`` page through them (``limit`` defaults to the pillar's
    ``queued_job_number_to_display``).  The first page of each state is read from what the
    engine published; any other page, or a job beyond it, is asked of the engine.

    CLI Example:

    .. code-block:: bash

        salt-run dcluster.jobs
        salt-run dcluster.jobs id=1234
        salt-run dcluster.jobs state=all offset=1000 limit=500
    """
    data = rc.jobs(__opts__)
    offset = int(offset or 0)
    if id:
        for j in data.get("all", []) + [j for js in (data.get("by_state") or {}).values() for j in js]:
            if j["id"] == str(id):
                return [j]
        if data.get("total", 0) <= len(data.get("all", [])):
            return []  # every job was published: there is none of that id
        return _engine_jobs(id=str(id), limit=1)
    if limit is None:
        conf = ((_state().get("last") or {}).get("config") or {}).get("cluster", {}).get("config", {})
        limit = conf.get("queued_job_number_to_display", 30) or None
    published = data.get("all", []) if state == "all" else (data.get("by_state") or {}).get(state, [])
    count = data.get("total", 0) if state == "all" else (data.get("counts") or {}).get(state, 0)
    end = count if not limit else min(count, offset + int(limit))
    if end <= len(published):
        return published[offset:end]
    return _engine_jobs(state=state, offset=offset, limit=max(1, end - offset))


def _engine_jobs(**args):
    """A page of jobs the engine did not publish, filtered on its live view (controller/queries.py)."""
    from dcluster.controller.queries import MAX_PAGE

    args["limit"] = min(int(args.get("limit") or MAX_PAGE), MAX_PAGE)
    out = rc.call(__opts__, "jobs", args)
    if not out.get("ok"):
        raise rc.EngineUnavailable(out.get("message") or "the engine did not answer")
    return out["jobs"]


def plan(offset=0, limit=50, job=None, worker=None, reason=None):
    """
    A live dry-run: what the engine would do now and why, without acting.  Asked of the engine,
    which answers from the plan of its last cycle, made on its live view (no event to any
    worker, no write, no action): counts of pending jobs and of workers per reason, the
    actions (and, with auto mode off, what auto mode would do), and a page of pending jobs
    (which resource each goes to, or why none) and of workers (why kept, or what is done to
    them and why).  ``offset`` and ``limit`` (at most 1000) page both lists; ``job``,
    ``worker`` and ``reason`` (a code of the summary, e.g. ``at_max``, ``backoff``, ``busy``)
    filter them.  Raises when the engine is unavailable or refuses the arguments.

    CLI Example:

    .. code-block:: bash

        salt-run dcluster.plan
        salt-run dcluster.plan reason=at_max limit=20
        salt-run dcluster.plan job=1234
        salt-run dcluster.plan worker=dc-nectar-1a2b3c-0123456789ab
    """
    args = {"offset": offset, "limit": limit}
    for key, value in (("job", job), ("worker", worker), ("reason", reason)):
        if value is not None:
            args[key] = value
    try:
        _state()  # nothing published: no engine to ask (fails at once instead of waiting for an answer)
    except rc.EngineUnavailable as exc:
        raise CommandExecutionError(f"dcluster.plan: {exc}") from None
    return _ask("plan", args, timeout=30.0)


@_needs_engine
def resources(name=None):
    """
    Resources with limits, size, node shape, reservation and backoff (original: GET /resource[/<n>]).

    CLI Example:

    .. code-block:: bash

        salt-run dcluster.resources
    """
    res = (_state().get("last") or {}).get("resources") or {}
    if name and name not in res:
        raise CommandExecutionError(f"dcluster.resources: unknown resource {name!r}; known: {', '.join(sorted(res))}")
    return res[name] if name else res


@_needs_engine
def history(limit=360):
    """
    Recent samples of nodes and cores by state and by resource, and pending jobs (the dashboard's graphs).

    CLI Example:

    .. code-block:: bash

        salt-run dcluster.history limit=60
    """
    return list(_state().get("history", []))[-int(limit) :]


@_needs_engine
def graphs(minutes=120):
    """
    The dashboard's graphs: nodes and cores by state and by resource, and pending jobs, over the
    last ``minutes``; from Graphite's render API when the graphite plugin has a ``render_url``
    (fetched by the master), else from the engine's recent history.

    CLI Example:

    .. code-block:: bash

        salt-run dcluster.graphs minutes=30
    """
    return dashboard.graphs(_state(), minutes=float(minutes))


@_needs_engine
def worker_graphs(name, minutes=120):
    """
    One worker's graphs over the last ``minutes``: load, CPU, memory and swap, network and
    disk I/O, and its fullest mount, from its ``dcluster_stats`` beacon; from Graphite's render
    API when the graphite plugin has a ``render_url``, else from the engine's bounded history.

    CLI Example:

    .. code-block:: bash

        salt-run dcluster.worker_graphs name=dc-nectar-1a2b3c-0123456789ab minutes=120
    """
    from dcluster.glue.worker_graphs import worker_graphs as _worker_graphs

    def engine(mid, mins):
        return rc.call(__opts__, "worker_stats", {"name": mid, "minutes": mins})

    out = _worker_graphs(_state(), name, minutes, engine)
    if isinstance(out, dict) and out.get("ok") is False:  # a bad argument, or the engine refused
        raise CommandExecutionError(f"dcluster.worker_graphs: {out.get('message') or 'the engine gave no answer'}")
    return out


def dashboard_paths():
    """
    Where the installed dashboard is: the ``rest_cherrypy`` options ``app``, ``app_path``,
    ``static`` and ``static_path`` that serve it through salt-api (see docs/salt-api.md).

    CLI Example:

    .. code-block:: bash

        salt-run dcluster.dashboard_paths
    """
    return dashboard.paths()


@_needs_engine
def config():
    """
    The configuration the engine runs with, secrets removed (original: GET /server/config).

    CLI Example:

    .. code-block:: bash

        salt-run dcluster.config
    """
    return (_state().get("last") or {}).get("config") or {}


@_needs_engine
def server_status():
    """
    Auto mode, engine liveness, scheduler health and actions under way
    (original: GET /server/status and /server/queues).

    CLI Example:

    .. code-block:: bash

        salt-run dcluster.server_status
    """
    data = _state()
    last = data.get("last") or {}
    view = last.get("view") or {}
    return {
        "auto_mode": view.get("auto_mode"),
        "engine_age_s": data["engine_age_s"],
        "engine_stale": data["engine_stale"],
        "scheduler_ok": view.get("scheduler_ok"),
        "cloud_ok": view.get("cloud_ok"),
        "in_flight": view.get("in_flight"),
        "busy_workers": last.get("busy_targets", []),
        "counters": data.get("counters", {}),
    }


def launch(resource, count=1):
    """
    Start ``count`` workers of ``resource`` now; refused beyond its max (original: PUT /resource/<n>?num=N).

    CLI Example:

    .. code-block:: bash

        salt-run dcluster.launch nectar count=2
    """
    return _call("launch", resource=resource, count=int(count))


def hold(name):
    """
    Hold (offline/drain) a node; an operator's hold is never undone or deleted automatically
    (original: PUT /workernode/<h>/hold).

    CLI Example:

    .. code-block:: bash

        salt-run dcluster.hold dc-nectar-1a2b3c-0123456789ab
    """
    return _call("hold", name=name)


def release(name):
    """
    Release a held node (original: PUT /workernode/<h>/unhold).

    CLI Example:

    .. code-block:: bash

        salt-run dcluster.release dc-nectar-1a2b3c-0123456789ab
    """
    return _call("release", name=name)


def vacate(name):
    """
    Requeue or kill the jobs of a node (original: PUT /workernode/<h>/vacate).

    CLI Example:

    .. code-block:: bash

        salt-run dcluster.vacate dc-nectar-1a2b3c-0123456789ab
    """
    return _call("vacate", name=name)


def remove(name):
    """
    Remove one of our workers from the scheduler and destroy its instance; refused while it runs jobs
    (original: DELETE /workernode/<h>).

    CLI Example:

    .. code-block:: bash

        salt-run dcluster.remove dc-nectar-1a2b3c-0123456789ab
    """
    return _call("remove", name=name)


def freeze(resource):
    """
    Keep a resource at its current size (original: PUT /resource/<n>/freeze).

    CLI Example:

    .. code-block:: bash

        salt-run dcluster.freeze nectar
    """
    return _call("freeze", resource=resource)


def drain(resource):
    """
    Scale a resource to zero as its jobs finish (original: PUT /resource/<n>/drain).

    CLI Example:

    .. code-block:: bash

        salt-run dcluster.drain nectar
    """
    return _call("drain", resource=resource)


def restore(resource):
    """
    Back to the pillar's limits after freeze or drain (original: PUT /resource/<n>/restore).

    CLI Example:

    .. code-block:: bash

        salt-run dcluster.restore nectar
    """
    return _call("restore", resource=resource)


def auto(enable=None):
    """
    Show, or turn on/off, automatic scaling (original: PUT/DELETE /server/auto).

    CLI Example:

    .. code-block:: bash

        salt-run dcluster.auto enable=False
    """
    return _call("auto", enable=enable)


def validate(minion=None):
    """
    Validate the ``dcluster`` pillar of a minion (default: this master's id) and return every error.

    The findings are data (``valid``, ``errors``, each naming its key path); ``retcode`` is 1 when the
    pillar is not valid, which ``salt-run`` takes as its exit code, so a script can test it.

    CLI Example:

    .. code-block:: bash

        salt-run dcluster.validate
        salt-run dcluster.validate minion=headnode
    """
    minion = minion or __opts__.get("id")
    pillar = __salt__["pillar.show_pillar"](minion) or {}
    data = pillar.get(dconfig.PILLAR_KEY)
    if data is None:
        errs = [f"{dconfig.PILLAR_KEY}: not in the pillar of {minion}"]
    else:
        errs = dconfig.errors(data)
    return {"valid": not errs, "minion": minion, "errors": errs, "retcode": 1 if errs else 0}


def simulate(trace, **kwargs):
    """
    Replay a job trace (SWF, plain or .gz, or a bundled one: kth, hpc2n) through a scaling
    policy in simulated time and return its cost and waits.

    CLI Example:

    .. code-block:: bash

        salt-run dcluster.simulate trace=kth policy=dcluster idle=300
        salt-run dcluster.simulate trace=/srv/site.swf.gz policy=powersave max_nodes=50 cores_per_node=8
        salt-run dcluster.simulate trace=kth idle=60 reservations=false   # respect_reservations off
        salt-run dcluster.simulate trace=kth scheduler=slurm 'slurm={bf_window: 7200}' boot_p95=300
        salt-run dcluster.simulate trace=kth node_sizes=1,4,16 size_choice=waste   # node-size choice
    """
    from dcluster.sim.simulation import simulate as _simulate

    opts = {k: v for k, v in kwargs.items() if not k.startswith("__")}
    try:
        return _simulate(trace, **opts)
    except (OSError, ValueError) as exc:
        raise CommandExecutionError(f"dcluster.simulate: {exc}") from None

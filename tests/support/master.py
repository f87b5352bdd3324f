"""A pytest-salt-factories salt-master running the dcluster engine, as the integration tests start it.

The scheduler is Torque, which Debian does not package: its commands are fakes
on PATH (tests/support/fakecmd.py) that each test primes with the answers it
needs.  The master reads the ``dcluster`` pillar from ``<tmp>/pillar`` and
runs the engine (``interval`` 1) and, when asked, the repo's auth and start
reactors, which then decide about keys instead of the factory.
"""

from __future__ import annotations

import json

import yaml

from tests.conftest import ROOT
from tests.support.fakecmd import FakeCommands

TORQUE_NAMES = ["qstat", "pbsnodes", "qmgr", "checknode", "diagnose", "showres", "setres", "releaseres", "qsig", "qdel"]
REACTORS = [
    {"salt/auth": [str(ROOT / "reactor" / "auth.sls")]},
]  # minion starts need none: the engine reads them off the bus (controller/start_events.py)


def torque_fakes(directory) -> FakeCommands:
    """Torque's commands as fakes in ``directory``, answering nothing until primed."""
    return FakeCommands(str(directory), TORQUE_NAMES)


def maui_quiet(fake: FakeCommands) -> FakeCommands:
    """MAUI's answers when no job waits and nothing is reserved, as MAUI 3.3 words them: the engine
    checks MAUI's health each cycle (``diagnose -p``) and an empty output is not a MAUI report."""
    fake.respond("diagnose", "no idle jobs in queue\n")
    fake.respond(
        "showres",
        "reservations on Sat Dec  5 04:00:00\n\n" + " " * 12 + "NodeName       Type      "
        "ReservationID   JobState Task       Start    Duration            StartTime\n\n0 nodes reserved\n",
    )
    return fake


def empty_torque(directory) -> FakeCommands:
    """Torque's fakes answering an empty cluster: no job, no node."""
    fake = torque_fakes(directory)
    fake.respond("qstat", "<Data></Data>")
    fake.respond("pbsnodes", "<Data></Data>")
    return maui_quiet(fake)


def torque_config(fake: FakeCommands) -> dict:
    """The pillar's ``cluster:config`` for Torque, run from the fakes' directory."""
    return {
        "qstat_command": "qstat -x -t",
        "pbsnodes_command": "pbsnodes {0} {1}",
        "add_node_command": 'qmgr -c "create node {0}"',
        "check_node_command": "checknode {0}",
        "remove_node_command": 'qmgr -c "delete node {0}"',
        "set_node_command": 'qmgr -c "set node {0} {1} {2} {3}"',
        "diagnose_p_command": "diagnose -p",
        "showres_command": "showres -n",
        "setres_command": "setres {0} {1} {2}",
        "releaseres_command": "releaseres {0}",
        "delete_job_command": "qdel -p {0}",
        "signal_job_command": "qsig -s {0} {1}",
        "command_env": {"PATH": fake.path_env},
        "command_timeout": 20,
    }


def torque_pillar(
    tmp,
    fake: FakeCommands,
    secret: str,
    cluster_name: str,
    net: tuple[str, str, str],
    quantity: tuple[int, int],
    r1_config: dict | None = None,
    **settings,
) -> dict:
    """The dcluster pillar: Torque through ``fake``, polled each second, and one ``local`` resource r1
    of 2 cores on ``net`` (bridge, network, gateway) with ``quantity`` (min, max), its instances kept
    under ``<tmp>/local-cloud``; ``r1_config`` adds to r1's config and ``settings`` to the pillar."""
    bridge, network, gateway = net
    low, high = quantity
    return {
        "secret": secret,
        "cluster_name": cluster_name,
        "cluster_poller_interval": 1,
        "cloud_poller_interval": 2,
        "cluster": {"type": "torque", "config": torque_config(fake)},
        "cloud": {
            "r1": {
                "type": "local",
                "cores": 2,
                "quantity": {"min": low, "max": high},
                "config": {
                    "bridge": bridge,
                    "network": network,
                    "gateway": gateway,
                    "state_dir": str(tmp / "local-cloud"),
                    **(r1_config or {}),
                },
            }
        },
        **settings,
    }


def write_pillar(tmp, master_id: str, pillar: dict) -> None:
    """``pillar`` as the ``dcluster`` pillar of ``master_id``, under ``<tmp>/pillar``."""
    (tmp / "pillar").mkdir(exist_ok=True)
    (tmp / "pillar" / "top.sls").write_text(f"base:\n  '{master_id}':\n    - dcluster\n")
    (tmp / "pillar" / "dcluster.sls").write_text(yaml.safe_dump({"dcluster": pillar}))


def engine_master(
    salt_factories, master_id: str, tmp, address: str = "127.0.0.1", reactors: list | None = None, **overrides
):
    """The (not yet started) factory of a master on ``address`` running the engine on ``<tmp>/pillar``.

    ``reactors``: None runs no reactor; a list runs the repo's auth and start
    reactors and then those entries, and leaves key decisions to them.
    ``overrides`` are added to the master's configuration.
    """
    config = {
        "interface": address,
        "pillar_roots": {"base": [str(tmp / "pillar")]},
        "engines": [{"dcluster": {"master_address": address, "interval": 1}}],
        # This checkout's engine and runner, searched before the installed entry point's folders: an
        # editable install made from another checkout would otherwise run its engine, not the one under test.
        "engines_dirs": [str(ROOT / "_engines")],
        "runner_dirs": [str(ROOT / "_runners")],
        **overrides,
    }
    kwargs = {}
    if reactors is not None:
        config["reactor"] = REACTORS + list(reactors)
        kwargs["on_auth_event_callback"] = lambda *a, **k: None  # the reactors decide, not the factory
    return salt_factories.salt_master_daemon(master_id, overrides=config, **kwargs)


def master_keys(master) -> dict:
    """``salt-key -L`` of the master: {"minions": [...], "minions_pre": [...], ...}."""
    ret = master.salt_key_cli().run("-L", "--out=json")
    assert ret.returncode == 0, ret
    return ret.data if isinstance(ret.data, dict) else json.loads(ret.stdout)

"""The one adapter interface, the registry and the typed scheduler settings."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from dcluster import holds
from dcluster.config import ConfigError, Reservation, keys, load, schedulers
from dcluster.schedulers import KINDS, adapter_class, make_adapter
from dcluster.schedulers.adapter import Adapter

OPERATIONS = ("jobs", "nodes", "add_node", "set_reservation", "hold", "release", "remove", "vacate", "check")


@pytest.mark.parametrize("kind", KINDS)
def test_every_adapter_has_the_interface_signatures_exactly(kind):
    cls = adapter_class(kind)
    assert issubclass(cls, Adapter) and cls.kind == kind and not inspect.isabstract(cls)
    for op in OPERATIONS:
        mine, theirs = inspect.signature(getattr(cls, op)), inspect.signature(getattr(Adapter, op))
        assert list(mine.parameters.values()) == list(theirs.parameters.values()), (kind, op, mine, theirs)


def test_registry_refuses_an_unknown_scheduler():
    with pytest.raises(ValueError, match="unknown scheduler type 'pbspro'"):
        adapter_class("pbspro")


def test_capabilities_say_what_the_name_used_to():
    slurm, sge, torque = (adapter_class(k) for k in ("slurm", "sge", "torque"))
    assert slurm.takes_address and not slurm.resolves_names
    assert not sge.takes_address and sge.resolves_names and not torque.takes_address and torque.resolves_names
    assert (slurm.worker_daemon, sge.worker_daemon, torque.worker_daemon) == ("slurmd", "sge_execd", "pbs_mom")


def test_offered_properties_come_from_the_adapter():
    res = Reservation(queue="batch", properties=("bigmem",))
    slurm = load({"secret": "0123456789abcdef", "cluster": {"type": "slurm"}}).cluster.config
    sge = load({"secret": "0123456789abcdef", "cluster": {"type": "sge"}}).cluster.config
    assert adapter_class("slurm").offered(slurm, res) == {"dcluster", "bigmem", "batch"}
    assert adapter_class("sge").offered(sge, res) == {"bigmem"}


@pytest.mark.parametrize("kind", KINDS)
def test_typed_settings_have_every_key_of_the_schema_and_its_defaults(kind):
    cls = schedulers.CONFIG_TYPES[kind]
    assert [f.name for f in dataclasses.fields(cls)] == list(keys.CLUSTER_CONFIGS[kind].fields)
    conf = load({"secret": "0123456789abcdef", "cluster": {"type": kind}}).cluster.config
    assert type(conf) is cls and conf.command_timeout == 60 and conf.queue_to_monitor == ()
    assert conf == schedulers.from_pillar(kind, {})  # a raw mapping gets the same defaults


def test_a_raw_mapping_given_to_an_adapter_is_validated_with_the_key_path():
    with pytest.raises(ConfigError, match=r"dcluster:cluster:config:node_feature: 5 is not a string"):
        make_adapter("slurm", {"node_feature": 5}, lambda argv, stdin=None: (0, "", ""))
    adapter = make_adapter("sge", {"default_queue": "b.q"}, lambda argv, stdin=None: (0, "", ""))
    assert adapter.config.default_queue == "b.q" and adapter.config.default_hostgroup == "@allhosts"


def test_an_adapter_refuses_another_schedulers_settings():
    slurm = load({"secret": "0123456789abcdef", "cluster": {"type": "slurm"}}).cluster.config
    with pytest.raises(TypeError, match="SgeAdapter takes a SgeConfig, not SlurmConfig"):
        make_adapter("sge", slurm, lambda argv, stdin=None: (0, "", ""))


@pytest.mark.parametrize(
    "reason, ours",
    [
        ("dcluster: idle", True),
        ("  dcluster: held", True),
        ("maintenance", False),
        ("", False),
        (None, False),
        # an admin's words that begin like ours are still the admin's (red team: such a node was destroyed)
        ("DCluster worker: bad disk, do not use", False),
        ("dclusterfs mount broken", False),
        ("dcluster maintenance", False),
    ],
)
def test_our_hold_is_one_definition(reason, ours):
    assert holds.is_our_hold(reason) is ours
    assert holds.is_our_hold(holds.DEFAULT_HOLD_REASON)

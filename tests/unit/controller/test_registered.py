"""Which workers the engine registered (issue 16: a node that joined by itself is registered once)."""

from memory_ports import Loop, slurm_pillar

from dcluster import identity
from dcluster.controller.state import ControllerState
from dcluster.model import Node, NodeState

SECRET = "registered-test-secret-01"


def test_registered_is_saved_and_an_older_file_counts_its_configured_workers_as_registered():
    st = ControllerState.from_json({"configured": ["a", "b"], "registered": ["a"]})
    assert st.registered == {"a"}
    assert st.to_json()["registered"] == ["a"]
    assert ControllerState.from_json(st.to_json()).registered == {"a"}
    # written before the key existed: those were registered then, and post_add_node_command ran for them
    assert ControllerState.from_json({"configured": ["a", "b"]}).registered == {"a", "b"}
    assert ControllerState.from_json({"configured": ["a"], "registered": ["x", 3]}).registered == {"x"}


def test_the_loop_registers_a_self_joined_node_once_it_is_configured(tmp_path):
    loop = Loop(
        tmp_path, slurm_pillar(SECRET, r1={"reservation": {"property": "gpu"}}, cluster_name="dc", max_idle_time=3600)
    )
    mid = identity.make("dc", "r1", SECRET)
    loop.cloud.launch(1, [mid], lambda m: "")
    loop.sched.nodes_[mid] = Node(name=mid, state=NodeState.IDLE, cores=4)  # slurmd -Z: it is there already
    loop.step()
    assert mid not in loop.c.state.registered  # not configured yet: nothing
    loop.c.mark_configured(mid, True)
    loop.step()
    loop.step()
    assert mid in loop.c.state.registered
    registers = [d for t, d in loop.events if t.endswith("action/register/done")]
    assert [d["target"] for d in registers] == [mid]

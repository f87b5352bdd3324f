"""End to end with Grid Engine: salt-master + dcluster engine + reactors, sge_qmaster on this host, the local cloud.

Workers boot as namespaces running salt-minion, are accepted by the auth
reactor, highstated by salt://dcluster/worker (sge_execd; the engine adds the exec host), run the jobs,
idle out and are destroyed.  See tests/e2e/flow.py.
"""

import pytest

from . import flow

pytestmark = [pytest.mark.daemons, pytest.mark.slow]


@pytest.fixture(scope="module")
def stack(request):
    return flow.make_stack(request, "sge")


def test_burst_scales_up_runs_every_job_and_scales_down_to_min(stack):
    flow.burst_scales_up_runs_jobs_and_scales_down(stack)


def test_instance_whose_minion_never_connects_is_destroyed_after_max_launch_time(stack):
    flow.never_connecting_instance_is_destroyed(stack)


def test_master_restart_mid_scale_up_leaves_no_orphan_no_duplicate_and_every_job_completes(stack):
    flow.master_restart_mid_scale_up(stack)

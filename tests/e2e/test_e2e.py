"""End to end: salt-master + dcluster engine + reactors, the scheduler's controller on this host, the local cloud.

Run once per scheduler: Grid Engine (sge_qmaster; workers run sge_execd and the
engine adds the exec host) and Slurm (slurmctld; workers register with
slurmd -Z).  Workers boot as namespaces running salt-minion with the key the
engine accepted before their launch, are highstated by salt://dcluster/worker, run the jobs, idle out
and are destroyed.  See tests/e2e/flow.py.
"""

import pytest

from . import flow

pytestmark = [pytest.mark.daemons, pytest.mark.slow]


# Module scope: one stack per scheduler, its tests in this order (the second uses the first's
# never-connecting instance), then it is stopped before the other scheduler's starts.
@pytest.fixture(scope="module", params=["sge", "slurm"])
def stack(request):
    return flow.make_stack(request, request.param)


def test_burst_scales_up_runs_every_job_and_scales_down_to_min(stack):
    flow.burst_scales_up_runs_jobs_and_scales_down(stack)


def test_instance_whose_minion_never_connects_is_destroyed_after_max_launch_time(stack):
    flow.never_connecting_instance_is_destroyed(stack)


def test_master_restart_mid_scale_up_leaves_no_orphan_no_duplicate_and_every_job_completes(stack):
    flow.master_restart_mid_scale_up(stack)


def test_a_job_with_a_begin_time_gets_its_worker_booted_just_ahead_of_it(stack):
    flow.begin_time_job_gets_its_worker_just_ahead(stack)

"""controller/listed.py keeps an index of the remembered instances by resource, so that a listing
of one resource looks at its own (issue 15: 20 listings each walked all 5,000).  Random listings,
forgets and restarts (an index built from a loaded state) keep what is remembered, missing and
forgotten the same as the walk over every instance it replaced."""

import random

from dcluster.controller.listed import Listed
from dcluster.controller.state import ControllerState
from dcluster.model import Instance, InstanceState


class Walking(Listed):
    """saw() as it was: every remembered instance looked at for each listing."""

    def saw(self, resource, items, now, grace):
        shown = {i.minion_id: i for i in items if i.state != InstanceState.GONE}
        with self.state.lock:
            for mid, inst in list(self.state.listed.items()):
                if inst.resource != resource or mid in shown:
                    continue
                since = self._missing.setdefault(mid, now)
                if inst.state == InstanceState.DELETING or now - since >= grace:
                    self.forget(mid)
            for mid, inst in shown.items():
                self.state.listed[mid] = inst
                self._missing.pop(mid, None)


def _inst(rng, mid, resource):
    state = rng.choice((InstanceState.RUNNING,) * 6 + (InstanceState.DELETING, InstanceState.GONE))
    return Instance(id=f"i-{mid}", resource=resource, minion_id=mid, state=state, launch_time=0.0)


def test_the_index_gives_what_walking_every_instance_gave():
    rng = random.Random(15)
    resources = ("a", "b", "c")
    for _ in range(30):
        new, old = Listed(ControllerState()), Walking(ControllerState())
        for step in range(60):
            now = float(step * 10)
            if rng.random() < 0.1:  # a restart: the state as loaded, nothing in memory
                listed = dict(new.state.listed)
                assert listed == old.state.listed
                new, old = Listed(ControllerState()), Walking(ControllerState())
                new.state.listed.update(listed)
                old.state.listed.update(listed)
            if rng.random() < 0.2 and new.state.listed:
                mid = rng.choice(sorted(new.state.listed))
                new.forget(mid)
                old.forget(mid)
            res = rng.choice(resources)
            # mostly the resource's own ids; now and then one listed under another resource before
            items = [_inst(rng, f"m{rng.randrange(40)}", res) for _ in range(rng.randrange(0, 12))]
            new.saw(res, items, now, 25.0)
            old.saw(res, items, now, 25.0)
            assert new.state.listed == old.state.listed
            assert list(new.state.listed) == list(old.state.listed)  # the same order (the state file's)
            assert new._missing == old._missing
            for r in resources:
                assert new.of(r) == old.of(r)
                assert new.missing(r) == old.missing(r)

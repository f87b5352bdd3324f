"""The scheduler modules' ``set_reservation`` reads its arguments as add_node's reservation is read.

``salt '*' dcluster_slurm.set_reservation n1 property=a properties=b,c`` gives the older singular
``property`` and the CLI's comma-separated ``properties``: the adapter gets one list of both.
"""

import logging

from dcluster.glue.scheduler_module import SchedulerModule


def calls_of(**reservation):
    module = SchedulerModule("slurm", logging.getLogger(__name__))
    seen = []
    module.call = lambda salt, method, *args, **kwargs: seen.append((method, args, kwargs))  # type: ignore[method-assign]
    module.set_reservation({}, "n1", **reservation)
    return seen


def test_the_singular_property_and_the_cli_list_reach_the_adapter_as_one_list():
    assert calls_of(queue="q", account=None, property="a", properties="b,c") == [
        ("set_reservation", ("n1",), {"queue": "q", "account": None, "properties": ("b", "c", "a")})
    ]


def test_nothing_reserved_passes_no_property():
    assert calls_of(queue=None, account="acct") == [
        ("set_reservation", ("n1",), {"queue": None, "account": "acct", "properties": ()})
    ]

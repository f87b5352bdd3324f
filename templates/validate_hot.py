"""Validate templates/openstack/all-in-one.yaml with Heat's own engine code (openstack-heat).

Run by ``make validate-templates`` in .venv-templates, where openstack-heat is installed (it is
not a test dependency: it brings Heat's whole engine).  What it checks, with Heat's classes and
no cloud:

- heat's template parser reads the file (``template_format.parse``) and the HOT version's
  sections are valid (``Template.validate``);
- a stack made of it with sample parameters validates (``Stack.validate``): every parameter's
  constraints, every resource's properties against its type's schema, every intrinsic
  function (get_param, get_resource, get_attr, str_replace, list_join, if) and condition, the
  outputs;
- bad parameter values are refused: an admin_cidr of 0.0.0.0/0, a secret with a quote.

Heat would ask the cloud's catalog whether Neutron and Nova exist: assumed here.  Custom constraints (glance.image, nova.flavor, nova.keypair, neutron.network) ask the cloud's
APIs, which cannot be reached here: they are reported as not checked, and Heat checks them
when the stack is created; so is the server's check that the image fits the flavor.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

warnings.simplefilter("ignore")
logging.disable(logging.WARNING)

from heat.common import config as _heat_config  # noqa: E402,F401  (registers Heat's options)
from oslo_config import cfg  # noqa: E402

cfg.CONF([], project="heat", default_config_files=[])

from heat.common import context, exception, template_format  # noqa: E402
from heat.engine import constraints, environment, resource, resources, template  # noqa: E402
from heat.engine import stack as stack_mod  # noqa: E402
from heat.engine.resources.openstack.nova import server as nova_server  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATE = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "openstack", "all-in-one.yaml")
SAMPLE = {
    "image": "debian-12",
    "flavor": "m3.medium",
    "key_name": "admin-key",
    "network": "cluster-net",
    "worker_cidr": "10.0.0.0/24",
    "admin_cidr": "192.0.2.0/24",
    "scheduler": "slurm",
    "dcluster_source": "https://git.example.org/dcluster.git",
    "worker_image": "1e6a2b3c-0000-4000-8000-000000000001",
    "auth_url": "https://keystone.example.org:5000/v3",
    "application_credential_id": "0123456789abcdef0123456789abcdef",
    "application_credential_secret": "AbCdEf0123456789_-AbCdEf0123456789",
}
NOT_CHECKED: set[str] = set()


def _no_cloud(self, value, schema, context, template=None):
    """Custom constraints look the value up in the cloud: recorded, not checked."""
    NOT_CHECKED.add(self.name)
    return True


def _no_catalog(cls, context):
    """Whether the cloud runs Neutron or Nova is a question for its catalog: assumed yes."""
    return (True, None)


def validate(text: str, params: dict) -> None:
    parsed = template_format.parse(text)
    tmpl = template.Template(parsed, env=environment.Environment({"parameters": params}))
    tmpl.validate()
    ctx = context.RequestContext(user_id="validator", project_id="validator", is_admin=False)
    stack_mod.Stack(ctx, "dcluster-aio", tmpl, strict_validate=True).validate()


def refused(text: str, params: dict) -> bool:
    try:
        validate(text, params)
    except (exception.StackValidationFailed, ValueError) as exc:
        print(f"  refused as it should be: {str(exc).splitlines()[0][:160]}")
        return True
    return False


def main() -> int:
    resources.initialise()
    constraints.CustomConstraint._is_valid = _no_cloud
    resource.Resource.is_service_available = classmethod(_no_catalog)
    # The server's check that the image's minimum disk and RAM fit the flavor reads both from
    # the cloud: left to stack creation.
    nova_server.Server._validate_image_flavor = lambda self, image, flavor: None
    with open(TEMPLATE) as fh:
        text = fh.read()
    failures = 0
    # each branch of the template's conditions
    for extra in ({"scheduler": "slurm"}, {"scheduler": "sge"}, {"public_network": "public"}):
        try:
            validate(text, dict(SAMPLE, **extra))
            print(f"{os.path.relpath(TEMPLATE)}: valid for Heat with {extra}")
        except Exception as exc:  # noqa: BLE001 - any failure of Heat's validation is reported
            print(f"{os.path.relpath(TEMPLATE)}: INVALID with {extra}: {exc}")
            failures += 1
    for key, bad in (("admin_cidr", "0.0.0.0/0"), ("application_credential_secret", "quote'" + "x" * 20)):
        print(f"{key}={bad!r}:")
        if not refused(text, dict(SAMPLE, **{key: bad})):
            print(f"  ACCEPTED: {key}={bad!r} should be refused")
            failures += 1
    print("custom constraints not checked (they need the cloud):", ", ".join(sorted(NOT_CHECKED)) or "none")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

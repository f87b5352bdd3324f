"""User-data rendering, the default salt-minion template, and the batch wrapper (run for real with /bin/sh)."""

import os
import subprocess

import pytest

from dcluster import identity
from dcluster.clouds import base, userdata
from dcluster.clouds.errors import InvalidConfig

CTX = {"master": "127.200.0.1", "resource": "ec2", "scheduler": "slurm", "cluster": "hpc"}


def test_default_template_sets_id_and_master_and_is_valid_sh(tmp_path):
    text = userdata.render(None, minion_id="hpc-ec2-abcdef-0123456789ab", **CTX)
    assert text.startswith("#!/bin/sh")
    assert "MINION_ID=hpc-ec2-abcdef-0123456789ab" in text
    assert "MASTER=127.200.0.1" in text
    assert "salt-minion" in text and "command -v salt-minion" in text  # installs only when missing
    script = tmp_path / "ud.sh"
    script.write_text(text)
    assert subprocess.run(["sh", "-n", str(script)]).returncode == 0


def test_default_template_writes_minion_config_and_starts_minion_in_instance_dir(tmp_path):
    # Run the local-cloud flavour for real, with a stub salt-minion first on PATH.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    stub = bindir / "salt-minion"
    stub.write_text("#!/bin/sh\necho \"$@\" > \"$DCL_TEST_OUT\"\n")
    stub.chmod(0o755)
    root = tmp_path / "root"
    text = userdata.render(None, minion_id="hpc-loc-abcdef-0123456789ab", instance_dir=str(root), **CTX)
    script = tmp_path / "ud.sh"
    script.write_text(text)
    env = {"PATH": f"{bindir}:/usr/bin:/bin", "DCL_TEST_OUT": str(tmp_path / "argv")}
    subprocess.run(["/bin/sh", str(script)], env=env, check=True, timeout=30)
    conf = (root / "etc/salt/minion.d/dcluster.conf").read_text()
    assert "id: hpc-loc-abcdef-0123456789ab" in conf
    assert "master: 127.200.0.1" in conf
    # everything the minion keeps lives in the instance's directory...
    for line in (f"pki_dir: {root}/etc/salt/pki/minion", f"cachedir: {root}/var/cache/salt/minion",
                 f"log_file: {root}/var/log/salt/minion"):
        assert line in conf
    # ...but its sockets do not: Unix socket paths are limited to 108 bytes
    sock = [line for line in conf.splitlines() if line.startswith("sock_dir: ")][0].split(": ", 1)[1]
    assert sock == "/run/dcluster/0123456789ab"
    assert len(sock + "/minion_event_0123456789_pub.ipc") < 108
    assert "\nroot_dir:" not in conf  # Salt would prepend it to sock_dir
    assert (tmp_path / "argv").read_text().split()[:2] == ["-c", f"{root}/etc/salt"]


def test_user_template_with_a_typo_names_the_file(tmp_path):
    tpl = tmp_path / "ud.j2"
    tpl.write_text("#!/bin/sh\necho {{ minion_idd }}\n")
    with pytest.raises(InvalidConfig, match=str(tpl)) as exc:
        userdata.render(str(tpl), minion_id="x", **CTX)
    assert exc.value.kind == "config"


def test_missing_template_is_a_config_error_not_a_crash(tmp_path):
    with pytest.raises(InvalidConfig, match="cannot be read"):
        userdata.load_template(str(tmp_path / "nope.j2"))


def test_renderer_passes_every_context_value(tmp_path):
    tpl = tmp_path / "ud.j2"
    tpl.write_text("{{ minion_id }} {{ master }} {{ resource }} {{ scheduler }} {{ cluster }} {{ resource_type }}")
    render = userdata.renderer(str(tpl), resource_type="aws", **CTX)
    assert render("m1") == "m1 127.200.0.1 ec2 slurm hpc aws"


def test_batch_wrapper_gives_each_launch_index_its_own_id(tmp_path, monkeypatch):
    # The metadata service is replaced by an environment variable; the rest of the wrapper runs as shipped.
    monkeypatch.setitem(base.INDEX_COMMANDS, "aws", 'idx="$TEST_INDEX"')
    ids = [identity.make("hpc", "ec2", "0123456789abcdef") for _ in range(3)]
    out = tmp_path / "out"

    def userdata_for(mid):
        return f"#!/bin/sh\necho 'id={mid}' > {out}.$TEST_INDEX\n"

    wrapper = base.batch_userdata(ids, userdata_for, "aws")
    assert wrapper is not None and wrapper.startswith("#!/bin/sh")
    script = tmp_path / "wrapper"
    script.write_text(wrapper)
    for i, mid in enumerate(ids):
        subprocess.run(["/bin/sh", str(script)], env={"TEST_INDEX": str(i), "PATH": "/usr/bin:/bin"},
                       check=True, timeout=10)
        assert (tmp_path / f"out.{i}").read_text() == f"id={mid}\n"


def test_batch_wrapper_refuses_what_it_cannot_share():
    ids = [identity.make("hpc", "ec2", "0123456789abcdef") for _ in range(2)]
    assert base.batch_userdata(ids, lambda m: "#cloud-config\nhostname: " + m, "aws") is None
    counter = iter(range(10))
    assert base.batch_userdata(ids, lambda m: f"#!/bin/sh\necho {next(counter)}\n", "aws") is None
    assert base.batch_userdata(ids[:1], lambda m: "anything " + m, "aws") == "anything " + ids[0]


def test_wrapper_with_default_template_fits_ec2_limit_for_a_batch_of_50():
    ids = [identity.make("hpc", "ec2", "0123456789abcdef") for _ in range(50)]
    render = userdata.renderer(None, **CTX)
    wrapper = base.batch_userdata(ids, render, "aws")
    assert wrapper is not None
    assert len(wrapper.encode()) < 16384
    assert all(mid in wrapper for mid in ids)
    assert os.path.basename(userdata.DEFAULT_TEMPLATE) == "salt-minion.sh.j2"

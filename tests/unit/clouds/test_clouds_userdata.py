"""User-data rendering and the default salt-minion template (run for real with /bin/sh)."""

import os
import stat
import subprocess

import pytest

from dcluster import identity, keypairs
from dcluster.clouds import userdata
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
    stub.write_text('#!/bin/sh\necho "$@" > "$DCL_TEST_OUT"\n')
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
    for line in (
        f"pki_dir: {root}/etc/salt/pki/minion",
        f"cachedir: {root}/var/cache/salt/minion",
        f"log_file: {root}/var/log/salt/minion",
    ):
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


def test_default_template_installs_the_key_pair_root_only(tmp_path):
    # Run the local-cloud flavour for real: the minion must find the pre-accepted pair in its pki_dir.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "salt-minion").write_text("#!/bin/sh\nexit 0\n")
    (bindir / "salt-minion").chmod(0o755)
    root = tmp_path / "root"
    pair = keypairs.generate()
    text = userdata.render(None, minion_id="hpc-loc-abcdef-0123456789ab", instance_dir=str(root), key=pair, **CTX)
    script = tmp_path / "ud.sh"
    script.write_text(text)
    subprocess.run(["/bin/sh", str(script)], env={"PATH": f"{bindir}:/usr/bin:/bin"}, check=True, timeout=30)
    pki = root / "etc/salt/pki/minion"
    assert (pki / "minion.pem").read_text() == pair.private_pem
    assert (pki / "minion.pub").read_text() == pair.public_pem
    assert stat.S_IMODE((pki / "minion.pem").stat().st_mode) == 0o400
    assert stat.S_IMODE((pki / "minion.pub").stat().st_mode) & 0o077 == 0


def test_a_template_that_drops_the_key_is_refused_by_name(tmp_path):
    tpl = tmp_path / "ud.j2"
    tpl.write_text("#!/bin/sh\necho {{ minion_id }}\n")
    with pytest.raises(InvalidConfig, match=f"{tpl}.*minion_pem"):
        userdata.render(str(tpl), minion_id="x", key=keypairs.generate(), **CTX)
    # a cloud-config template that indents the key into a YAML block installs it
    tpl.write_text(
        "#cloud-config\nwrite_files:\n  - path: /etc/salt/pki/minion/minion.pem\n    content: |\n"
        "      {{ minion_pem | indent(6) }}\n"
    )
    assert "cloud-config" in userdata.render(str(tpl), minion_id="x", key=keypairs.generate(), **CTX)


def test_renderer_gives_each_id_its_own_key_and_no_other():
    pairs = {m: keypairs.generate() for m in ("hpc-ec2-aaaaaa-0123456789ab", "hpc-ec2-bbbbbb-0123456789ab")}
    render = userdata.renderer(None, keys=pairs, **CTX)
    for mid, pair in pairs.items():
        text = render(mid)
        assert pair.private_pem in text and mid in text
        for other, other_pair in pairs.items():
            if other != mid:
                assert other not in text and other_pair.private_pem not in text


def test_default_template_with_a_key_fits_the_ec2_limit():
    text = userdata.render(
        None, minion_id=identity.make("hpc", "ec2", "0123456789abcdef"), key=keypairs.generate(), **CTX
    )
    assert len(text.encode()) < 16384
    assert os.path.basename(userdata.DEFAULT_TEMPLATE) == "salt-minion.sh.j2"


def test_default_template_closes_the_metadata_service_to_other_users(tmp_path):
    # On a real cloud the user-data (and so the key) is served to any process that asks the metadata
    # service: the template asks iptables and ip6tables to let only root through, on every address.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "fw.log"
    for tool in ("iptables", "ip6tables"):
        # -C (is the rule there?) fails, -I records the rule
        (bindir / tool).write_text(f'#!/bin/sh\n[ "$1" = -C ] && exit 1\necho {tool} "$@" >> {log}\n')
        (bindir / tool).chmod(0o755)
    for tool in ("hostname", "salt-minion", "systemctl"):
        (bindir / tool).write_text("#!/bin/sh\nexit 0\n")
        (bindir / tool).chmod(0o755)
    text = userdata.render(None, minion_id="hpc-ec2-abcdef-0123456789ab", key=keypairs.generate(), **CTX)
    # write the config under tmp_path instead of /etc (the rest runs as shipped)
    text = text.replace("CONF_DIR=/etc/salt", f"CONF_DIR={tmp_path}/etc").replace("/etc/hostname", "/dev/null")
    script = tmp_path / "ud.sh"
    script.write_text(text)
    subprocess.run(["/bin/sh", str(script)], env={"PATH": f"{bindir}:/usr/bin:/bin"}, check=True, timeout=30)
    rules = log.read_text().splitlines()
    for tool, addr in (
        ("iptables", "169.254.169.254"),
        ("ip6tables", "fd00:ec2::254"),
        ("ip6tables", "fe80::a9fe:a9fe"),
    ):
        assert f"{tool} -I OUTPUT -d {addr} -m owner ! --uid-owner 0 -j REJECT" in rules


def test_a_template_is_compiled_once_and_an_edit_takes_effect_at_the_next_load(tmp_path):
    from dcluster.clouds import userdata as ud

    path = tmp_path / "ud.sh.j2"
    path.write_text("#!/bin/sh\necho {{ minion_id }}\n")
    first, again = ud.load_template(str(path)), ud.load_template(str(path))
    assert first is again  # launch batches do not compile it again
    path.write_text("#!/bin/sh\necho edited {{ minion_id }}\n")
    edited = ud.load_template(str(path))
    assert edited is not first and "edited m1" in edited.render(minion_id="m1")

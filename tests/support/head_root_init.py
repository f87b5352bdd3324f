"""PID 1 of a throw-away head-node host: private PID, mount, UTS and network namespaces.

Run as ``unshare --fork --pid --mount-proc --mount --uts --net --propagation private
python3 head_root_init.py DIR HOSTNAME ADDRESS``.  Inside its namespaces it puts copy-on-write
overlays (upper layers in DIR/overlay) over /etc, /var, /srv, /opt and /usr/local, a fresh tmpfs on
/run, removes what an earlier setup of this machine left (the munge key, slurm.conf,
Salt's configuration) so the head formula starts from the packages alone, names the host,
brings up lo and ADDRESS (its /etc/hosts maps HOSTNAME to it), writes DIR/ready and then reaps orphans until it is killed.  Everything the
formula writes or starts stays inside: the machine's own /etc and daemons are not touched,
and killing this process makes the kernel kill every process of the namespace.
"""

import os
import shutil
import signal
import subprocess
import sys

OVERLAID = ("/etc", "/var", "/srv", "/opt", "/usr/local")
RUNLEVEL = "#!/bin/sh\necho N 2\n"
# Left by this machine's own setup; a fresh head has none of them.
REMOVED = (
    "/etc/munge/munge.key",
    "/etc/slurm/slurm.conf",
    "/etc/salt",
    "/etc/default/graphite-carbon",
    "/var/lib/slurm/slurmctld",
    "/var/log/slurm/slurmctld.log",
)


def run(*argv):
    subprocess.run(list(argv), check=True, stdout=subprocess.DEVNULL)


def main(directory, hostname, address):
    for path in OVERLAID:
        name = path.strip("/")
        upper, work = (os.path.join(directory, "overlay", name, part) for part in ("upper", "work"))
        os.makedirs(upper)
        os.makedirs(work)
        run("mount", "-t", "overlay", "overlay", "-o", f"lowerdir={path},upperdir={upper},workdir={work}", path)
    run("mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", "/run")
    # This machine has systemctl but no systemd running: Salt then loads its systemd service module
    # in "offline" mode, whose service.running does nothing and reports success.  Hiding systemctl
    # makes this host what it is, a sysvinit Debian, so Salt uses the init scripts (debian_service).
    # runlevel is a link to systemctl here; sysvinit's answers "N 2" (debian_service asks it).
    run("mount", "--bind", "/dev/null", "/usr/bin/systemctl")
    with open("/usr/local/sbin/runlevel", "w") as fh:
        fh.write(RUNLEVEL)
    os.chmod("/usr/local/sbin/runlevel", 0o755)
    os.makedirs("/run/lock", mode=0o1777)
    for path in REMOVED:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.remove(path)
    with open("/etc/hosts", "w") as fh:
        fh.write(f"{address} {hostname}\n127.0.0.1 localhost\n")
    run("hostname", hostname)
    run("ip", "link", "set", "lo", "up")
    # An address on a device other than lo: getaddrinfo(AI_ADDRCONFIG), which Slurm uses, resolves
    # nothing while a host has loopback addresses only.  A veth pair kept inside this namespace
    # (the kernel here has no dummy devices); 127/8 off lo needs route_localnet.
    run("sysctl", "-q", "-w", "net.ipv4.conf.all.route_localnet=1")
    run("ip", "link", "add", "dch0", "type", "veth", "peer", "name", "dch1")
    run("sysctl", "-q", "-w", "net.ipv4.conf.dch0.route_localnet=1")
    run("ip", "addr", "add", f"{address}/32", "dev", "dch0")
    run("ip", "link", "set", "dch0", "up")
    run("ip", "link", "set", "dch1", "up")
    with open(os.path.join(directory, "ready"), "w") as fh:
        fh.write(str(os.getpid()))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # A handler, so that pause() returns when an orphan that became our child exits.
    signal.signal(signal.SIGCHLD, lambda *_: None)
    while True:
        try:
            os.wait()
        except ChildProcessError:
            signal.pause()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])

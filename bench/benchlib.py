"""What the benchmark scripts share: waiting for ports, starting processes pinned to a core,
starting the reference Pushpin 1.36 (../shared/tools/reference-pushpin) with its config edited, and
reading the memory and CPU time of a process tree."""

import os
import re
import signal
import socket
import ssl
import subprocess
import threading
import time
from collections import namedtuple
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The project's shared/ folder sits beside the checkout; a checkout elsewhere (a git worktree)
# names it with GRIPWAY_SHARED.
SHARED = Path(os.environ.get("GRIPWAY_SHARED", ROOT.parent / "shared"))


def wait_port(port, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on port {port}")


def spawn(args, core=None):
    """Starts `args` in its own process group, pinned to `core` when given."""
    prefix = ["taskset", "-c", str(core)] if core is not None else []
    return subprocess.Popen(prefix + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


# A started server: its client and publish ports, the pid of its process tree's root, a
# function that stops the whole tree, its TLS client port and its ZeroMQ PULL publish port
# (push_in_spec; None without one).
Server = namedtuple("Server", "client publish pid stop tls push", defaults=(None, None))


def require_binaries(*names):
    """Fails with the build command when a release binary the bench runs is missing (the
    scripts do not build: the binaries may be built elsewhere and copied in)."""
    missing = [n for n in names if not (ROOT / "target/release" / n).exists()]
    if missing:
        raise SystemExit(f"missing target/release/{', '.join(missing)}: run "
                         "`cargo build --release -p gripway -p gripway-loadgen` first")


def write_identity(certs_dir, name):
    """Writes a self-signed ECDSA P-256 identity for `localhost` as `<name>.crt` and `<name>.key`
    (PEM), the files both gripway and Pushpin's condure read from `runner/certs`."""
    certs_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                    "-keyout", str(certs_dir / f"{name}.key"), "-out", str(certs_dir / f"{name}.crt")],
                   check=True, capture_output=True)


def client_tls_context():
    """A client TLS context for the bench's self-signed identities (loopback only: no checks)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def stopper(proc):
    """A function that stops `proc`'s whole process group."""
    return lambda: os.killpg(proc.pid, signal.SIGTERM)


def start_pushpin(offset, routes, core=None, settings=None, tls=False):
    """Starts Pushpin with `routes` at port offset `offset`; `settings` replaces config keys, also
    commented-out ones (e.g. {"message_rate": "1000000"}). With `tls`, it also listens for TLS
    clients on 9443 + offset, with a self-signed identity."""
    args = [str(SHARED / "tools/reference-pushpin"), "--offset", str(offset)]
    for r in routes:
        args += ["--route", r]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    pid = int(re.search(r"pid=(\d+)", out).group(1))
    conf = Path(re.search(r"dir=(\S+)", out).group(1)) / "pushpin.conf"
    # The tool starts Pushpin unpinned with its stock config: restart it as wanted.
    os.killpg(os.getpgid(pid), signal.SIGTERM)
    time.sleep(2)
    settings = dict(settings or {})
    tls_port = 9443 + offset if tls else None
    if tls:
        settings["https_ports"] = str(tls_port)
        write_identity(conf.parent / "runner" / "certs", f"default_{tls_port}")
    text = conf.read_text()
    for key, value in settings.items():
        text = re.sub(rf"^#?{key}=.*$", f"{key}={value}", text, flags=re.M)
    conf.write_text(text)
    proc = spawn(["pushpin", "--config", str(conf), "-m"], core)
    client, publish = 7999 + offset, 5561 + offset
    wait_port(client)
    wait_port(publish)
    if tls_port:
        wait_port(tls_port)
    time.sleep(2)
    # port_offset moves the shipped push_in_spec (tcp://127.0.0.1:5560) too.
    return Server(client, publish, proc.pid, stopper(proc), tls_port, 5560 + offset)


def start_gripway(port, publish_port, routes, core=None, handler=None, tls_port=None, push_port=None):
    """Starts the release gripway binary; a publish port of 0 turns the publish API off.
    `handler` adds [handler] settings (by default message_rate is unset: unlimited). With
    `tls_port`, it also listens for TLS clients there, with a self-signed identity; with
    `push_port`, it binds its ZeroMQ PULL publish input (push_in_spec) there."""
    folder = Path(f"/tmp/gripway-bench-{port}")
    folder.mkdir(exist_ok=True)
    conf = folder / "pushpin.conf"
    handler = dict(handler or {})
    if push_port:
        handler["push_in_spec"] = f"tcp://127.0.0.1:{push_port}"
    extra = "".join(f"{k}={v}\n" for k, v in handler.items())
    runner = "client_maxconn=60000\n"
    if tls_port:
        runner += f"https_ports={tls_port}\n"
        write_identity(folder / "runner" / "certs", f"default_{tls_port}")
    conf.write_text(f"[handler]\npush_in_http_addr=127.0.0.1\npush_in_http_port={publish_port}\n"
                    f"{extra}[runner]\n{runner}")
    args = [str(ROOT / "target/release/gripway"), "--config", str(conf), "--port", str(port), "--loglevel", "1"]
    for r in routes:
        args += ["--route", r]
    proc = spawn(args, core)
    wait_port(port)
    if publish_port:
        wait_port(publish_port)
    if push_port:
        wait_port(push_port)
    return Server(port, publish_port, proc.pid, stopper(proc), tls_port, push_port)


def loadgen(server, options, timeout=600, on_line=None):
    """Runs bench/loadgen pinned to core 1 against `server`'s client port with `options`
    (e.g. --streams, --messages, --publish or --push); its report. `on_line(line, pid)` sees
    each line of the report as it is printed, with the loadgen's pid: "streams held" comes
    1.5 s before the first publish, "published" when it is done waiting for deliveries."""
    args = ["taskset", "-c", "1", str(ROOT / "target/release/loadgen"), "--client", f"127.0.0.1:{server.client}"]
    with subprocess.Popen(args + [str(o) for o in options], stdout=subprocess.PIPE, text=True) as proc:
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            lines = []
            for line in proc.stdout:
                lines.append(line)
                if on_line:
                    on_line(line, proc.pid)
            return "".join(lines)
        finally:
            timer.cancel()


def _stat_fields(pid):
    """The fields of /proc/<pid>/stat after the command name (which may hold spaces): [0] is
    the state, [1] the parent pid, [11] and [12] utime and stime in clock ticks."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def descendants(root):
    """`root` and every process below it (Pushpin's runner starts condure, zurl, pushpin-proxy
    and pushpin-handler as its children)."""
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int(_stat_fields(entry.name)[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def pss_kib(root):
    """PSS of `root` and all its descendants, in KiB."""
    total = 0
    for pid in descendants(root):
        try:
            m = re.search(r"^Pss:\s+(\d+) kB", Path(f"/proc/{pid}/smaps_rollup").read_text(), re.M)
            total += int(m.group(1)) if m else 0
        except OSError:
            pass
    return total


def process_name(pid):
    """The command name of `pid` (e.g. `condure`), or "?" once it is gone."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def cpu_seconds(pids):
    """User + system CPU time used so far by `pids` (all their threads), in seconds. Take it
    before and after a run over the same pids: a process that exits in between takes its time
    with it."""
    ticks = 0
    for pid in pids:
        try:
            fields = _stat_fields(pid)
            ticks += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds():
    """CPU time the whole machine has spent busy so far (every core and process, and interrupts),
    in seconds: less what a run's own processes used, it is what others on this shared machine
    took meanwhile (plus loopback softirq work charged to no process)."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle, iowait = fields[3], fields[4]
    # user nice system idle iowait irq softirq steal; guest time is already counted in user.
    return (sum(fields[:8]) - idle - iowait) / os.sysconf("SC_CLK_TCK")


def raise_nofile(needed):
    """Raises this process's open-file limit to its hard limit, which the servers and load
    generator started from here inherit; fails early when even that is below `needed`."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise SystemExit(f"open-file limit {hard} is below the {needed} this run needs (ulimit -Hn)")
    if soft != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def pss_by_process(root):
    """PSS in KiB of each process in `root`'s tree, by command name (summed per name)."""
    out = {}
    for pid in descendants(root):
        try:
            name = Path(f"/proc/{pid}/comm").read_text().strip()
            m = re.search(r"^Pss:\s+(\d+) kB", Path(f"/proc/{pid}/smaps_rollup").read_text(), re.M)
        except OSError:
            continue
        out[name] = out.get(name, 0) + (int(m.group(1)) if m else 0)
    return out


def tree_cpu_seconds(root):
    """User and system CPU seconds used so far by `root`'s tree (live processes only)."""
    tick = os.sysconf("SC_CLK_TCK")
    user = system = 0
    for pid in descendants(root):
        try:
            fields = _stat_fields(pid)
        except (OSError, IndexError):
            continue
        user += int(fields[11])
        system += int(fields[12])
    return user / tick, system / tick


def cpu_by_process(root):
    """User plus system CPU seconds so far of each process in `root`'s tree, by command name."""
    out = {}
    for pid in descendants(root):
        name = process_name(pid)
        out[name] = out.get(name, 0) + cpu_seconds([pid])
    return out

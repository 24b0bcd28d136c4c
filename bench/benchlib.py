"""What the benchmark scripts share: waiting for ports, starting processes pinned to a core, and
starting the reference Pushpin 1.36 (../shared/tools/reference-pushpin) with its config edited."""

import os
import re
import signal
import socket
import ssl
import subprocess
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
# function that stops the whole tree, and its TLS client port (None without one).
Server = namedtuple("Server", "client publish pid stop tls", defaults=(None,))


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
    return Server(client, publish, proc.pid, stopper(proc), tls_port)


def start_gripway(port, publish_port, routes, core=None, handler=None, tls_port=None):
    """Starts the release gripway binary; a publish port of 0 turns the publish API off.
    `handler` adds [handler] settings (by default message_rate is unset: unlimited). With
    `tls_port`, it also listens for TLS clients there, with a self-signed identity."""
    folder = Path(f"/tmp/gripway-bench-{port}")
    folder.mkdir(exist_ok=True)
    conf = folder / "pushpin.conf"
    extra = "".join(f"{k}={v}\n" for k, v in (handler or {}).items())
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
    return Server(port, publish_port, proc.pid, stopper(proc), tls_port)


def pss_kib(root):
    """PSS of `root` and all its descendants, in KiB."""
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            m = re.search(r"^Pss:\s+(\d+) kB", Path(f"/proc/{pid}/smaps_rollup").read_text(), re.M)
            total += int(m.group(1)) if m else 0
        except OSError:
            pass
    return total


def raise_nofile(needed):
    """Raises this process's open-file limit to its hard limit, which the servers and load
    generator started from here inherit; fails early when even that is below `needed`."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise SystemExit(f"open-file limit {hard} is below the {needed} this run needs (ulimit -Hn)")
    if soft != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def tree_pids(root):
    """`root` and all its descendants."""
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo.extend(children.get(pid, []))
    return pids


def pss_by_process(root):
    """PSS in KiB of each process in `root`'s tree, by command name (summed per name)."""
    out = {}
    for pid in tree_pids(root):
        try:
            name = Path(f"/proc/{pid}/comm").read_text().strip()
            m = re.search(r"^Pss:\s+(\d+) kB", Path(f"/proc/{pid}/smaps_rollup").read_text(), re.M)
        except OSError:
            continue
        out[name] = out.get(name, 0) + (int(m.group(1)) if m else 0)
    return out


def cpu_seconds(root):
    """User and system CPU seconds used so far by `root`'s tree (live processes only)."""
    tick = os.sysconf("SC_CLK_TCK")
    user = system = 0
    for pid in tree_pids(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        user += int(fields[11])
        system += int(fields[12])
    return user / tick, system / tick


def cpu_by_process(root):
    """User plus system CPU seconds so far of each process in `root`'s tree, by command name."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in tree_pids(root):
        try:
            name = Path(f"/proc/{pid}/comm").read_text().strip()
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[name] = out.get(name, 0) + (int(fields[11]) + int(fields[12])) / tick
    return out

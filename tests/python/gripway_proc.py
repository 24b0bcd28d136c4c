"""Starting the real gripway binary on loopback ports for Python tests, and stopping it."""

import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


# Ports handed out by this process: the kernel may offer a just-closed port again, and two
# servers of one test given the same port fail to start.
_handed_out = set()


def free_port():
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port
    raise OSError("no fresh free port")


def free_ports(count):
    """The first of `count` consecutive free loopback ports (a zhttp/ target takes P..P+2)."""
    for _ in range(100):
        first = free_port()
        socks = []
        try:
            for n in range(count):
                sock = socket.socket()
                socks.append(sock)
                sock.bind(("127.0.0.1", first + n))
            return first
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise OSError(f"no {count} consecutive free ports")


def wait_for_port(port, timeout=10.0, alive=None):
    """Waits until something listens on `port`; with `alive` (a Popen), fails at once, with what
    the process wrote to its log, if it exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if alive is not None and alive.poll() is not None:
                raise TimeoutError(f"gripway exited ({alive.returncode}) before listening on {port}")
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {port}")


class Gripway:
    """gripway with its client and publish ports on free loopback ports; a context manager."""

    def __init__(self, routes, extra_conf=""):
        self.port = free_port()
        self.publish_port = free_port()
        self.dir = tempfile.TemporaryDirectory(prefix="gripway-py-")
        conf = Path(self.dir.name) / "pushpin.conf"
        conf.write_text(
            f"[handler]\npush_in_http_addr=127.0.0.1\npush_in_http_port={self.publish_port}\n{extra_conf}"
        )
        binary = os.environ.get("GRIPWAY_BIN", str(ROOT / "target" / "debug" / "gripway"))
        args = [binary, "--config", str(conf), "--port", str(self.port)]
        for r in routes:
            args += ["--route", r]
        self.log = open(Path(self.dir.name) / "stderr.log", "w+")
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=self.log)

    def __enter__(self):
        try:
            wait_for_port(self.port, alive=self.proc)
            wait_for_port(self.publish_port, alive=self.proc)
        except TimeoutError as e:
            self.log.flush()
            self.log.seek(0)
            said = self.log.read()[-2000:]
            self.__exit__(None, None, None)
            raise TimeoutError(f"{e}; gripway's log ends:\n{said}") from None
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        self.dir.cleanup()

    @property
    def control_uri(self):
        return f"http://127.0.0.1:{self.publish_port}"

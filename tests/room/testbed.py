"""The room test bed: a real livekit-server on loopback, and access tokens.

LiveKitServer starts the binary scripts/testbed.sh built, on free ports with a
generated config, waits (bounded) until it listens, and always stops it.
"""
import atexit
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time

API_KEY = "APIlkffitest"


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc):
    """SIGTERM, then SIGKILL if proc is still there 10 s later."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


class LiveKitServer:
    def __init__(self, binary=None, log_level=None, advertise=None):
        """advertise: one more local address (say a lossy link's) that the
        server binds besides loopback and gives clients as its ICE
        address; clients behind that link reach it at url_for(advertise).
        Start the server after that address exists: it binds per address."""
        self.advertise = advertise
        self.binary = binary or os.environ["LK_TESTBED_SERVER"]
        self.log_level = log_level or os.environ.get("LK_SERVER_LOG", "info")
        self.secret = secrets.token_hex(24)  # 48 characters
        self.pick_ports()
        self.dir = tempfile.mkdtemp(prefix="lkffi-server-")
        # its config and log stay for tail() after a stop, until the run ends
        atexit.register(shutil.rmtree, self.dir, ignore_errors=True)
        self.log_path = os.path.join(self.dir, "server.log")
        self.proc = None

    def pick_ports(self):
        # Free when asked, but any process may take one before the server
        # binds it (every outgoing connection draws from the same range):
        # start() picks again when that happens.
        self.http_port = free_port()
        self.tcp_port = free_port()
        while self.tcp_port == self.http_port:
            self.tcp_port = free_port()
        self.udp_port = free_port(socket.SOCK_DGRAM)
        self.url = f"ws://127.0.0.1:{self.http_port}"

    def url_for(self, address):
        return f"ws://{address}:{self.http_port}"

    def config(self):
        binds = "".join(f"  - {a}\n" for a in ("127.0.0.1", self.advertise) if a)
        return (
            f"port: {self.http_port}\n"
            "bind_addresses:\n" + binds +
            "rtc:\n"
            f"  tcp_port: {self.tcp_port}\n"
            f"  udp_port: {self.udp_port}\n"
            "  use_external_ip: false\n"
            f"  node_ip: {self.advertise or '127.0.0.1'}\n"
            "keys:\n"
            f"  {API_KEY}: {self.secret}\n"
            "logging:\n  level: " + self.log_level + "\n"
        )

    def start(self, timeout=30.0, attempts=5):
        for attempt in range(attempts):
            try:
                return self.start_once(timeout)
            except RuntimeError:
                if attempt + 1 == attempts or "address already in use" not in self.tail():
                    raise
                self.pick_ports()

    def start_once(self, timeout):
        cfg = os.path.join(self.dir, "config.yaml")
        with open(cfg, "w") as f:
            f.write(self.config())
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [self.binary, "--config", cfg], stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.log.close()
                raise RuntimeError(f"livekit-server exited at start:\n{self.tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.http_port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"livekit-server did not listen within {timeout} s:\n{self.tail()}")

    def pause(self):
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            stop_process(self.proc)
        if getattr(self, "log", None):
            self.log.close()

    def tail(self, n=40):
        try:
            with open(self.log_path) as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def token(self, identity, room="test-room", name=None, metadata=None, attributes=None,
              ttl_s=600, secret=None, kind=None):
        from livekit import api
        t = (api.AccessToken(API_KEY, secret or self.secret)
             .with_identity(identity)
             .with_grants(api.VideoGrants(room_join=True, room=room, can_update_own_metadata=True))
             .with_ttl(__import__("datetime").timedelta(seconds=ttl_s)))
        if name:
            t = t.with_name(name)
        if metadata:
            t = t.with_metadata(metadata)
        if attributes:
            t = t.with_attributes(attributes)
        if kind:
            t = t.with_kind(kind)
        return t.to_jwt()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# --- participants in their own processes ------------------------------------------

OURS = "ours"
UPSTREAM = "upstream"


def peer_env(lib):
    """The environment for a process on the upstream SDK that loads our
    library (OURS: LIVEKIT_FFI_OURS) or the Rust library the wheel bundles
    (UPSTREAM)."""
    env = dict(os.environ)
    env.pop("LIVEKIT_LIB_PATH", None)
    if lib == OURS:
        env["LIVEKIT_LIB_PATH"] = os.environ["LIVEKIT_FFI_OURS"]
    return env


def spawn(script, lib, *args, netns=None):
    """A participant script on the upstream SDK, on our library (OURS) or
    on the Rust library the wheel bundles (UPSTREAM); inside the network
    namespace netns if given (ip netns exec keeps the environment)."""
    import sys
    env = peer_env(lib)
    prefix = ["ip", "netns", "exec", netns] if netns else []
    return subprocess.Popen([*prefix, sys.executable, script, *args], env=env,
                            stdout=subprocess.PIPE, text=True)


def wait_ready(p):
    line = p.stdout.readline()
    assert line.strip() == "READY", f"peer did not connect: {line}"


def finish(p, timeout=60):
    """The script's final JSON line (it is killed if it overruns)."""
    import json
    try:
        out, _ = p.communicate(timeout=timeout)
    finally:
        p.kill()
    return json.loads(out.strip().splitlines()[-1])

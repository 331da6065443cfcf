"""A lossy, jittery network link in user space, for room tests.

This machine's kernel has no netem qdisc, but TUN and network namespaces
work. LossyLink makes a namespace joined to the root namespace by two TUN
interfaces, a point-to-point /30 between them, and relays IP packets from
one TUN to the other in a thread: each packet is dropped with probability
`loss`, or written to the other side after its own delay, uniform in
[delay - jitter, delay + jitter] ms (so packets reorder, as with netem).
Both directions get the same treatment.

    with LossyLink(loss=0.10, delay_ms=30, jitter_ms=10, seed=1) as link:
        link.root_ip    # this side's address (a server binds it)
        link.ns_ip      # the namespace's address
        link.netns      # run a process there: ["ip", "netns", "exec", link.netns, ...]
        link.counters() # what the relay dropped and forwarded, per direction
        link.set_loss(p) # from now on

Needs root, /dev/net/tun and `ip`: LossyLink.unavailable() says why not,
for a test to skip with. Everything is torn down on exit, even when setup
fails half-way: the relay thread stopped, the TUN descriptors closed (which
removes the interfaces), leftover processes in the namespace killed, the
namespace deleted.
"""
import errno
import fcntl
import heapq
import itertools
import os
import random
import select
import shutil
import signal
import struct
import subprocess
import threading
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
QUEUE_MAX = 4096       # packets waiting for their due time; more are dropped
READS_PER_WAKE = 64    # per TUN per poll, so one busy side cannot starve the other
_instances = itertools.count()


class LinkUnavailable(Exception):
    """The machine cannot make the link (not a test failure)."""


def _ip(*args, check=True):
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10, check=check)


class LossyLink:
    def __init__(self, loss=0.10, delay_ms=30.0, jitter_ms=10.0, seed=None):
        assert 0 <= loss < 1 and 0 <= jitter_ms <= delay_ms
        self.loss, self.delay_ms, self.jitter_ms = loss, delay_ms, jitter_ms
        self.rng = random.Random(seed)
        n = next(_instances)
        tag = f"{os.getpid() % 100000}x{n}"
        self.netns = f"lkffi-loss-{tag}"
        self.root_if, self.ns_if = f"lkl{tag}a", f"lkl{tag}b"  # at most 15 characters
        self.fds = {}
        self.thread = None
        self.stopping = False
        self.wake_r = self.wake_w = None
        self.netns_made = False
        self.lock = threading.Lock()
        self.stats = {d: {"forwarded": 0, "dropped": 0, "udp_forwarded": 0, "udp_bytes": 0,
                          "overflow": 0}
                      for d in ("to_ns", "from_ns")}

    @staticmethod
    def unavailable():
        """Why this machine cannot make the link, or None."""
        if os.geteuid() != 0:
            return "the lossy link needs root (network namespaces, TUN)"
        if not os.path.exists("/dev/net/tun"):
            return "the lossy link needs /dev/net/tun"
        if not shutil.which("ip"):
            return "the lossy link needs iproute2's `ip`"
        return None

    # --- setup and teardown ------------------------------------------------------

    def __enter__(self):
        why = self.unavailable()
        if why:
            raise LinkUnavailable(why)
        try:
            self._setup()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def _pick_subnet(self):
        # A 10.a.b.0/30 that no address or route here mentions yet.
        used = _ip("-4", "addr").stdout + _ip("-4", "route").stdout
        rng = random.Random(os.getpid() * 1000 + id(self))
        for _ in range(200):
            a, b = rng.randrange(200, 255), rng.randrange(0, 256)
            if f"10.{a}.{b}." not in used:
                return f"10.{a}.{b}"
        raise LinkUnavailable("no free 10.x.y.0/30 subnet found")

    def _open_tun(self, name):
        fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
        try:
            fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
        except OSError:
            os.close(fd)
            raise
        return fd

    def _setup(self):
        try:
            r = _ip("netns", "add", self.netns, check=False)
            if r.returncode:
                raise LinkUnavailable(f"ip netns add failed: {r.stderr.strip()}")
            self.netns_made = True
            self.fds["root"] = self._open_tun(self.root_if)
            self.fds["ns"] = self._open_tun(self.ns_if)
        except OSError as e:
            raise LinkUnavailable(f"cannot open a TUN interface: {e}") from e
        net = self._pick_subnet()
        self.root_ip, self.ns_ip = f"{net}.2", f"{net}.1"
        # The descriptor stays attached to the interface across the move.
        _ip("link", "set", self.ns_if, "netns", self.netns)
        _ip("addr", "add", f"{self.root_ip}/30", "dev", self.root_if)
        _ip("link", "set", self.root_if, "up")
        _ip("-n", self.netns, "addr", "add", f"{self.ns_ip}/30", "dev", self.ns_if)
        _ip("-n", self.netns, "link", "set", self.ns_if, "up")
        _ip("-n", self.netns, "link", "set", "lo", "up")
        _ip("-n", self.netns, "route", "add", "default", "via", self.root_ip, "dev", self.ns_if)
        self.wake_r, self.wake_w = os.pipe()
        self.thread = threading.Thread(target=self._relay, name=f"lossy-link-{self.netns}",
                                       daemon=True)
        self.thread.start()

    def close(self):
        if self.thread:
            self.stopping = True
            os.write(self.wake_w, b"x")
            self.thread.join(timeout=5)
            assert not self.thread.is_alive(), "the lossy link's relay did not stop"
            self.thread = None
        for fd in [*self.fds.values(), self.wake_r, self.wake_w]:
            if fd is not None:
                os.close(fd)
        self.fds, self.wake_r, self.wake_w = {}, None, None
        if self.netns_made:
            # Whatever a test left running in our namespace is ours to end.
            pids = _ip("netns", "pids", self.netns, check=False).stdout.split()
            for pid in pids[:1000]:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            _ip("netns", "del", self.netns, check=False)
            self.netns_made = False

    # --- the relay ---------------------------------------------------------------

    def set_loss(self, loss):
        assert 0 <= loss < 1
        with self.lock:
            self.loss = loss

    def counters(self):
        """A copy of the counters: per direction (to_ns, from_ns), packets
        forwarded, dropped at random, UDP among the forwarded (and their IP
        bytes), and dropped because the queue was full or the TUN would not
        take them."""
        with self.lock:
            return {d: dict(c) for d, c in self.stats.items()}

    def _relay(self):
        root, ns = self.fds["root"], self.fds["ns"]
        route = {root: (ns, "to_ns"), ns: (root, "from_ns")}
        poller = select.poll()
        for fd in (root, ns, self.wake_r):
            poller.register(fd, select.POLLIN)
        queue = []  # (due, seq, out fd, direction, packet)
        seq = itertools.count()
        lo, hi = (self.delay_ms - self.jitter_ms) / 1000, (self.delay_ms + self.jitter_ms) / 1000
        while not self.stopping:
            timeout = -1
            if queue:
                timeout = max(0, int((queue[0][0] - time.monotonic()) * 1000) + 1)
            for fd, _ in poller.poll(timeout):
                if fd == self.wake_r:
                    continue
                out, d = route[fd]
                for _ in range(READS_PER_WAKE):
                    try:
                        pkt = os.read(fd, 65536)
                    except BlockingIOError:
                        break
                    with self.lock:
                        c = self.stats[d]
                        if self.rng.random() < self.loss:
                            c["dropped"] += 1
                        elif len(queue) >= QUEUE_MAX:
                            c["overflow"] += 1
                        else:
                            due = time.monotonic() + self.rng.uniform(lo, hi)
                            heapq.heappush(queue, (due, next(seq), out, d, pkt))
            now = time.monotonic()
            while queue and queue[0][0] <= now:
                _, _, out, d, pkt = heapq.heappop(queue)
                try:
                    os.write(out, pkt)
                    ok = True
                except OSError as e:
                    if e.errno not in (errno.EAGAIN, errno.EIO, errno.EINVAL):
                        raise
                    ok = False
                with self.lock:
                    c = self.stats[d]
                    if ok:
                        c["forwarded"] += 1
                        # IPv4 protocol field: 17 is UDP
                        if len(pkt) > 9 and pkt[0] >> 4 == 4 and pkt[9] == 17:
                            c["udp_forwarded"] += 1
                            c["udp_bytes"] += len(pkt)
                    else:
                        c["overflow"] += 1

"""A lossy, jittery network link in user space, for room tests.

This machine's kernel has no netem qdisc, but TUN and network namespaces
work. LossyLink makes a namespace joined to the root namespace by two TUN
interfaces, a point-to-point /30 between them, and relays IP packets from
one TUN to the other in a thread: each packet is dropped with probability
`loss`, or written to the other side after its own delay, uniform in
[delay - jitter, delay + jitter] ms (so packets reorder, as with netem).
Both directions get the same treatment.

Optionally a direction is also a narrow pipe: rate_kbps (or set_rate)
puts a token bucket in front of the loss and delay above, holding BURST
bytes, with a drop-tail queue before it bounded in bytes (QUEUE_S of
traffic at the rate, at least QUEUE_MIN bytes: a few full-size packets),
the way a slow uplink's router buffers and then drops. The bucket comes
first, as the bottleneck a sender's congestion control has to find:
what it lets through is then lost and delayed like any other packet (a
packet lost at random has used its share of the rate), and its due time
counts from when it left the bucket, so the delay queue is still served
in order of due time. With no rate set nothing of this runs and the link
behaves exactly as without it.

    with LossyLink(loss=0.10, delay_ms=30, jitter_ms=10, seed=1) as link:
        link.root_ip    # this side's address (a server binds it)
        link.ns_ip      # the namespace's address
        link.netns      # run a process there: ["ip", "netns", "exec", link.netns, ...]
        link.counters() # what the relay dropped and forwarded, per direction
        link.set_loss(p) # from now on
        link.set_rate(600)             # kbit/s each way from now on (None: no limit)
        link.set_rate(600, "from_ns")  # one direction: "from_ns" (the namespace's
                                       # uplink) or "to_ns"

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
BURST = 10_000         # bytes: the rate limit's token bucket
QUEUE_S = 0.150        # its drop-tail queue holds this much traffic at the rate,
QUEUE_MIN = 4 * 1500   # and at least this many bytes (a few full-size packets)
DIRECTIONS = ("to_ns", "from_ns")
_instances = itertools.count()


class LinkUnavailable(Exception):
    """The machine cannot make the link (not a test failure)."""


def _ip(*args, check=True):
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10, check=check)


class _Pipe:
    """One direction's rate limit: a token bucket of BURST bytes filled at
    rate bytes/s, after a FIFO queue of at most cap bytes (drop-tail)."""

    def __init__(self):
        self.rate = None          # bytes/s, None: no limit
        self.cap = 0
        self.tokens = 0.0
        self.filled_at = 0.0      # monotonic time of the last refill
        self.fifo = []            # (arrival, packet), served from head
        self.head = 0             # index of the first packet still queued
        self.queued = 0           # bytes in the FIFO

    def set(self, kbps, now):
        if kbps is None:
            self.rate = None      # the relay lets the queue out at once
            return
        if self.rate is None:     # a new limit starts with a full bucket
            self.tokens, self.filled_at = float(BURST), now
        self.rate = kbps * 1000 / 8
        self.cap = max(int(self.rate * QUEUE_S), QUEUE_MIN)

    def __len__(self):
        return len(self.fifo) - self.head

    def push(self, pkt, now):
        """False if the queue has no room for pkt (dropped)."""
        if self.queued + len(pkt) > self.cap:
            return False
        self.fifo.append((now, pkt))
        self.queued += len(pkt)
        return True

    def pop(self, now):
        """The head packet and how long it waited, if the bucket lets it
        go now (or there is no limit any more); else None."""
        if not len(self):
            return None
        arrival, pkt = self.fifo[self.head]
        if self.rate is not None:
            self.tokens = min(BURST, self.tokens + (now - self.filled_at) * self.rate)
            self.filled_at = now
            if self.tokens < min(len(pkt), BURST):  # (a packet above BURST
                return None                          # leaves the bucket in debt)
            self.tokens -= len(pkt)
        self.head += 1
        self.queued -= len(pkt)
        if self.head > 256 and self.head * 2 > len(self.fifo):
            del self.fifo[:self.head]
            self.head = 0
        return pkt, now - arrival

    def ready_in(self, now):
        """Seconds until the head packet may go (0 if now), None if empty."""
        if not len(self):
            return None
        if self.rate is None:
            return 0.0
        size = min(len(self.fifo[self.head][1]), BURST)
        need = size - self.tokens - (now - self.filled_at) * self.rate
        return max(0.0, need / self.rate)


class LossyLink:
    def __init__(self, loss=0.10, delay_ms=30.0, jitter_ms=10.0, seed=None, rate_kbps=None):
        """rate_kbps: a rate limit in kbit/s on both directions (None: none);
        set_rate changes it, or sets one direction's."""
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
                          "overflow": 0, "bytes": 0, "in_packets": 0, "in_bytes": 0,
                          "rate_dropped": 0, "rate_passed": 0,
                          "rate_wait_s": 0.0, "rate_wait_max_ms": 0.0}
                      for d in DIRECTIONS}
        self.pipes = {d: _Pipe() for d in DIRECTIONS}
        if rate_kbps is not None:
            self.set_rate(rate_kbps)

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
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK)
        self.thread = threading.Thread(target=self._relay, name=f"lossy-link-{self.netns}",
                                       daemon=True)
        self.thread.start()

    def close(self):
        if self.thread:
            self.stopping = True
            try:
                os.write(self.wake_w, b"x")
            except BlockingIOError:
                pass  # full of wake-ups: the relay wakes anyway
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

    def set_rate(self, kbps, direction=None):
        """From now on, limit direction ("to_ns", "from_ns"; None: both) to
        kbps kbit/s of IP packets, or lift its limit (None: what is queued
        goes on at once)."""
        assert kbps is None or kbps > 0
        assert direction in (None, *DIRECTIONS), direction
        with self.lock:
            now = time.monotonic()
            for d in DIRECTIONS if direction is None else (direction,):
                self.pipes[d].set(kbps, now)
        if self.wake_w is not None:  # the relay recomputes its wait
            try:
                os.write(self.wake_w, b"r")
            except BlockingIOError:
                pass  # it has wake-ups pending already

    def counters(self):
        """A copy of the counters: per direction (to_ns, from_ns), packets
        taken in (in_packets, and their IP bytes in_bytes: what the sending
        side sent), forwarded (and their IP bytes: bytes), dropped at
        random, UDP among the forwarded (and their IP bytes), and dropped
        because the queue was full or the TUN would not take them (overflow).
        The rate limit's, all zero
        without one: rate_dropped, packets its queue had no room for;
        rate_passed, packets that went through it, and rate_wait_s, the
        seconds they waited in it in all (mean wait: the difference of one
        over the difference of the other between two calls). All of these
        only grow, except rate_wait_max_ms: the longest a packet waited in
        the rate queue since the previous call (each call starts it again
        from 0)."""
        with self.lock:
            out = {d: dict(c) for d, c in self.stats.items()}
            for c in self.stats.values():
                c["rate_wait_max_ms"] = 0.0
            return out

    def _relay(self):
        root, ns = self.fds["root"], self.fds["ns"]
        route = {root: (ns, "to_ns"), ns: (root, "from_ns")}
        out_fd = {"to_ns": ns, "from_ns": root}
        poller = select.poll()
        for fd in (root, ns, self.wake_r):
            poller.register(fd, select.POLLIN)
        queue = []  # (due, seq, out fd, direction, packet)
        seq = itertools.count()
        lo, hi = (self.delay_ms - self.jitter_ms) / 1000, (self.delay_ms + self.jitter_ms) / 1000

        def treat(out, d, pkt, now):
            # loss, then the delay queue (call with self.lock held)
            c = self.stats[d]
            if self.rng.random() < self.loss:
                c["dropped"] += 1
            elif len(queue) >= QUEUE_MAX:
                c["overflow"] += 1
            else:
                due = now + self.rng.uniform(lo, hi)
                heapq.heappush(queue, (due, next(seq), out, d, pkt))

        while not self.stopping:
            timeout = -1
            if queue:
                timeout = max(0, int((queue[0][0] - time.monotonic()) * 1000) + 1)
            with self.lock:
                now = time.monotonic()
                for p in self.pipes.values():
                    wait = p.ready_in(now)
                    if wait is not None:
                        ms = int(wait * 1000) + 1 if wait > 0 else 0
                        timeout = ms if timeout < 0 else min(timeout, ms)
            for fd, _ in poller.poll(timeout):
                if fd == self.wake_r:
                    try:
                        os.read(self.wake_r, 4096)  # set_rate's wake-ups
                    except BlockingIOError:
                        pass
                    continue
                out, d = route[fd]
                for _ in range(READS_PER_WAKE):
                    try:
                        pkt = os.read(fd, 65536)
                    except BlockingIOError:
                        break
                    with self.lock:
                        self.stats[d]["in_packets"] += 1
                        self.stats[d]["in_bytes"] += len(pkt)
                        pipe = self.pipes[d]
                        if pipe.rate is None and not len(pipe):
                            treat(out, d, pkt, time.monotonic())
                        elif not pipe.push(pkt, time.monotonic()):
                            self.stats[d]["rate_dropped"] += 1
            # what the rate limits let go now: what their buckets hold, or
            # their queues when a limit was lifted (the rest next time round)
            with self.lock:
                now = time.monotonic()
                for d, pipe in self.pipes.items():
                    c = self.stats[d]
                    for _ in range(READS_PER_WAKE):
                        got = pipe.pop(now)
                        if got is None:
                            break
                        pkt, waited = got
                        c["rate_passed"] += 1
                        c["rate_wait_s"] += waited
                        c["rate_wait_max_ms"] = max(c["rate_wait_max_ms"], waited * 1000)
                        treat(out_fd[d], d, pkt, now)
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
                        c["bytes"] += len(pkt)
                        # IPv4 protocol field: 17 is UDP
                        if len(pkt) > 9 and pkt[0] >> 4 == 4 and pkt[9] == 17:
                            c["udp_forwarded"] += 1
                            c["udp_bytes"] += len(pkt)
                    else:
                        c["overflow"] += 1

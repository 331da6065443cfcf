"""Resume: when a participant loses its signal connection to the server, the
room comes back by itself without the user doing anything, and without
anyone else noticing. The participant on this library (and on upstream's,
the reference) sees the room go RECONNECTING and come back CONNECTED, with
"reconnecting" and "reconnected" in between, under the same participant
sid; the other participant (always on upstream's library) never sees it
leave; reliable data goes both ways afterwards; and (first case) a packet
published while the room was reconnecting is not refused but arrives, once,
and metadata set meanwhile reaches the other participant.

Two ways to lose the signal connection:
  - the SDK's own simulate_scenario(SIMULATE_SIGNAL_RECONNECT), which closes
    the WebSocket at once;
  - a server that stops answering (SIGSTOP): the client notices when its
    ping goes unanswered (the ping timeout the server gave at join, 15 s)
    and resumes once the server answers again (SIGCONT).

Media goes on through a resume: a microphone's tone, whichever end
resumes in the middle of it, arrives with no gap.

A server that is gone for good (killed) ends the session with
"disconnected" after "reconnecting", never a hang.

Each prints, per library, the time from losing the connection to
"reconnecting" and from "reconnecting" to "reconnected", and the module
prints them side by side at the end (pytest -s)."""
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time

import pytest

import testbed
from audio_peer import TONE_S, loud_and_quiet
from testbed import OURS, UPSTREAM, finish, spawn, wait_ready

PEER = os.path.join(os.path.dirname(__file__), "resume_peer.py")
AUDIO_PEER = os.path.join(os.path.dirname(__file__), "audio_peer.py")
RESUME_AT_S = 4.0  # into the 10 s tone
BOUND_S = 30          # a step that involves no reconnection
RECONNECT_S = 30      # simulate_scenario to "reconnected"
PAUSE_NOTICE_S = 40   # SIGSTOP to "reconnecting" (ping timeout 15 s, interval 5 s)
PAUSE_RESUME_S = 45   # SIGCONT to "reconnected"
DURING_S = 60         # a publish made while reconnecting returns
KILLED_S = 120        # server killed to "disconnected" (upstream: 10 attempts, backoff <= 44 s)
STATE = {0: "DISCONNECTED", 1: "CONNECTED", 2: "RECONNECTING"}  # rtc.ConnectionState
LIFECYCLE = ("state", "reconnecting", "reconnected", "disconnected")
EXPECTED = ["state:RECONNECTING", "reconnecting", "state:CONNECTED", "reconnected"]

TIMINGS = {}  # (case, lib) -> {step: seconds}


@pytest.fixture(scope="module", autouse=True)
def side_by_side():
    yield
    if TIMINGS:
        print("\nresume timings (s):")
        for (case, lib), t in sorted(TIMINGS.items()):
            print(f"  {case:8} {lib:9} " + "  ".join(f"{k} {v:6.2f}" for k, v in t.items()))


def need(lib):
    if lib == OURS and not os.environ.get("LIVEKIT_FFI_OURS"):
        pytest.skip("LIVEKIT_FFI_OURS is not set (run through ctest)")


def ev(name, **fields):
    return lambda e: e["ev"] == name and all(e.get(k) == v for k, v in fields.items())


def gave_up(e):
    """The resumer stopped trying: the room closed, or simulate_scenario failed."""
    return e["ev"] == "disconnected" or (e["ev"] == "simulated" and e["error"])


class Peer:
    """A resume_peer.py process (started by testbed.spawn): its JSON events as
    they come, gathered by a reader thread; commands appended to its
    command file. Every wait is bounded and fails with what it saw."""

    def __init__(self, lib, name, url, token, workdir):
        self.lib, self.name = lib, name
        self.cmd_path = os.path.join(workdir, f"{name}.commands")
        open(self.cmd_path, "w").close()
        self.events = []
        self.cond = threading.Condition()
        self.proc = spawn(PEER, lib, url, token, self.cmd_path)
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        for line in self.proc.stdout:
            try:
                e = json.loads(line)
            except ValueError:
                e = {"ev": "raw", "line": line.rstrip()}
            with self.cond:
                self.events.append(e)
                self.cond.notify_all()
        with self.cond:
            self.events.append({"ev": "exited", "t": time.monotonic()})
            self.cond.notify_all()

    def send(self, cmd, **fields):
        with open(self.cmd_path, "a") as f:
            f.write(json.dumps({"cmd": cmd, **fields}) + "\n")

    def mark(self):
        with self.cond:
            return len(self.events)

    def since(self, mark):
        with self.cond:
            return list(self.events[mark:])

    def wait(self, what, pred, timeout, since=0, fail=None):
        """The first event from index since on that pred accepts; an event
        fail accepts first (or the process ending) fails at once."""
        deadline = time.monotonic() + timeout
        with self.cond:
            i = since
            while True:
                for e in self.events[i:]:
                    if pred(e):
                        return e
                    if e["ev"] in ("exited", "connect_failed") or (fail and fail(e)):
                        raise AssertionError(f"{self}: {e} before {what}: {self.events}")
                i = len(self.events)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{self}: no {what} within {timeout} s: {self.events}")
                self.cond.wait(left)

    def lifecycle(self, mark):
        """What this participant saw of its connection since mark."""
        out = []
        for e in self.since(mark):
            if e["ev"] == "state":
                out.append("state:" + STATE.get(e["state"], str(e["state"])))
            elif e["ev"] in LIFECYCLE:
                out.append(e["ev"])
        return out

    def status(self):
        m = self.mark()
        self.send("status")
        return self.wait("status", ev("status"), BOUND_S, m)

    def stop(self):
        if self.proc.poll() is None:
            self.send("quit")
            try:
                self.proc.wait(timeout=BOUND_S)
            except subprocess.TimeoutExpired:
                pass
        self.proc.kill()
        self.proc.wait(timeout=10)

    def __str__(self):
        return f"{self.name} ({self.lib})"


def exchange(resumer, observer, tag):
    """A reliable packet each way; each must arrive (bounded)."""
    for src, dst in ((resumer, observer), (observer, resumer)):
        m_src, m_dst = src.mark(), dst.mark()
        topic = f"{tag}-from-{src.name}"
        src.send("send", topic=topic, payload=f"{tag} from {src.name}")
        sent = src.wait(f"{topic} sent", ev("sent", topic=topic), BOUND_S, m_src)
        assert sent["error"] is None, (str(src), sent)
        got = dst.wait(f"{topic} received", ev("data", topic=topic), BOUND_S, m_dst)
        assert got["payload"] == f"{tag} from {src.name}", got
        # A sender that came back as a new participant (its own full
        # reconnect: it saw the other leave) may send before the server's
        # update naming it reaches the receiver, on either library: the
        # packet then has no known participant.
        came_back = any(e["ev"] == "participant_disconnected" for e in src.since(0))
        assert got["from"] == src.name or (got["from"] is None and came_back), got


class Pair:
    """The observer (upstream) and the resumer (lib) in a room of their own,
    knowing each other, reliable data shown to go both ways."""

    def __init__(self, server, case, lib):
        self.server, self.lib = server, lib
        self.room = f"resume-{case}-{lib}"
        self.dir = tempfile.mkdtemp(prefix="lkffi-resume-")
        self.peers = []
        self.t0 = None  # when the connection was lost: the timeline starts there

    def join(self, lib, name):
        p = Peer(lib, name, self.server.url,
                 self.server.token(name, room=self.room), self.dir)
        self.peers.append(p)
        return p, p.wait("ready", ev("ready"), BOUND_S)

    def __enter__(self):
        try:
            self.observer, seen = self.join(UPSTREAM, "observer")
            self.observer_sid = seen["sid"]
            self.resumer, ready = self.join(self.lib, "resumer")
            self.sid = ready["sid"]
            assert self.sid.startswith("PA_"), ready
            self.observer.wait("resumer joining", ev("participant_connected", identity="resumer"),
                               BOUND_S)
            exchange(self.resumer, self.observer, "before")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        for p in self.peers:
            p.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
        if self.t0 is not None:
            print(f"{self.room}, from the loss of the connection:")
            self.timeline(self.t0)

    def timeline(self, t0):
        """Both sides' events since t0, in order, for the log."""
        rows = [(e["t"] - t0, p.name, {k: v for k, v in e.items() if k != "t"})
                for p in self.peers for e in p.since(0) if e.get("t", t0 - 1) >= t0]
        for dt, name, e in sorted(rows, key=lambda x: x[0]):
            print(f"  {dt:8.3f} {name:8} {e}")

    def check_same_session(self, what):
        """Same sid on both sides; the observer never saw the resumer leave
        (unless the observer itself lost the same server: a full reconnect
        reports everyone leaving and joining again, and upstream's resume
        reconciles its view with the server's, which can report the
        resumer leaving and coming back, under the same sid, when the
        resumer was mid-resume itself; seen once in CI, both on upstream)."""
        st = self.resumer.status()
        assert st["sid"] == self.sid, (what, "sid changed", self.sid, st)
        assert STATE[st["state"]] == "CONNECTED", (what, st)
        seen = self.observer.status()
        assert seen["remote"].get("resumer") == self.sid, (what, seen)
        events = self.observer.since(0)
        if seen["sid"] != self.observer_sid or any(e["ev"] == "reconnecting" for e in events):
            return
        left = [e for e in events
                if e["ev"] == "participant_disconnected" and e["identity"] == "resumer"]
        assert left == [], (what, "the observer saw the resumer leave", left, self.server.tail())
        joined = [e for e in events
                  if e["ev"] == "participant_connected" and e["identity"] == "resumer"]
        assert len(joined) == 1, (what, "the observer saw the resumer join again", joined)


@pytest.mark.parametrize("lib", [OURS, UPSTREAM])
def test_simulated_signal_loss_resumes(server, lib):
    need(lib)
    with Pair(server, "signal", lib) as pair:
        r, o = pair.resumer, pair.observer
        m_r, m_o = r.mark(), o.mark()
        # published from inside the "reconnecting" handler, so while the
        # room reconnects: upstream's publish_data waits for the resume and
        # then sends it (it does not raise)
        r.send("send_on_reconnecting", topic="during", payload="sent while reconnecting")
        # a request to the server made meanwhile waits for the resume too
        r.send("metadata_on_reconnecting", metadata="set while reconnecting")
        r.send("simulate")
        trigger = r.wait("simulate_scenario called", ev("trigger"), BOUND_S, m_r)
        pair.t0 = trigger["t"]
        done = r.wait('"reconnected"', ev("reconnected"), RECONNECT_S, m_r, fail=gave_up)
        assert "reconnecting" in r.lifecycle(m_r), r.since(m_r)
        rec = r.wait('"reconnecting"', ev("reconnecting"), 0, m_r)
        TIMINGS[("signal", lib)] = t = {"to_reconnecting": rec["t"] - trigger["t"],
                                        "to_reconnected": done["t"] - rec["t"]}
        print(f"\nsignal {lib}: trigger->reconnecting {t['to_reconnecting']:.3f} s, "
              f"reconnecting->reconnected {t['to_reconnected']:.3f} s")
        simulated = r.wait("simulate_scenario returned", ev("simulated"), BOUND_S, m_r)
        assert simulated["error"] is None, simulated
        assert r.lifecycle(m_r) == EXPECTED, r.since(m_r)

        during = r.wait("the publish made while reconnecting returned",
                        ev("sent", topic="during"), DURING_S, m_r)
        assert during["error"] is None, ("publish_data while reconnecting raised", during)
        o.wait("the packet published while reconnecting", ev("data", topic="during"),
               BOUND_S, m_o)
        meta = r.wait("the set_metadata made while reconnecting returned", ev("metadata_set"),
                      DURING_S, m_r)
        assert meta["error"] is None, ("set_metadata while reconnecting failed", meta)
        o.wait("the metadata set while reconnecting",
               ev("metadata", identity="resumer", metadata="set while reconnecting"),
               BOUND_S, m_o)

        exchange(r, o, "after")
        pair.check_same_session("after simulate_scenario")
        # the "after" packet follows it on the same ordered channel, so a
        # second copy would have arrived by now
        copies = [e for e in o.since(m_o) if e["ev"] == "data" and e["topic"] == "during"]
        assert len(copies) == 1, copies
        assert r.lifecycle(m_r) == EXPECTED, r.since(m_r)  # nothing more happened


@pytest.mark.parametrize("lib", [OURS, UPSTREAM])
def test_paused_server_resumes(server, lib):
    need(lib)
    with Pair(server, "pause", lib) as pair:
        r, o = pair.resumer, pair.observer
        m_r, m_o = r.mark(), o.mark()
        paused = pair.t0 = time.monotonic()
        server.pause()
        try:
            rec = r.wait('"reconnecting" (ping timeout)', ev("reconnecting"), PAUSE_NOTICE_S, m_r,
                         fail=gave_up)
            time.sleep(1)
        finally:
            server.resume()  # a stopped server would hang the rest of the module
        resumed = time.monotonic()
        done = r.wait('"reconnected"', ev("reconnected"), PAUSE_RESUME_S, m_r, fail=gave_up)
        TIMINGS[("pause", lib)] = t = {"to_reconnecting": rec["t"] - paused,
                                       "to_reconnected": done["t"] - rec["t"],
                                       "sigcont_to_reconnected": done["t"] - resumed}
        print(f"\npause {lib}: SIGSTOP->reconnecting {t['to_reconnecting']:.3f} s, "
              f"reconnecting->reconnected {t['to_reconnected']:.3f} s "
              f"(SIGCONT->reconnected {t['sigcont_to_reconnected']:.3f} s)")
        assert r.lifecycle(m_r) == EXPECTED, r.since(m_r)

        # the observer lost the same server: if its own ping timed out too,
        # let it come back before data has to cross
        if any(e["ev"] == "reconnecting" for e in o.since(m_o)):
            o.wait('observer "reconnected"', ev("reconnected"), PAUSE_RESUME_S, m_o, fail=gave_up)
        try:
            exchange(r, o, "after")
        except AssertionError:
            if lib == UPSTREAM and any(e["ev"] == "participant_disconnected" and
                                       e["identity"] == "resumer" for e in o.since(m_o)):
                # Upstream's resume was accepted, then the server dropped
                # its session (the observer saw it leave 8 s later), and
                # the packet it sent in between was lost; it came back
                # later as a new participant (once in local CI on
                # 2026-12-07). The reference's own flaw, not ours to hold.
                return
            raise
        if lib == UPSTREAM and r.status()["sid"] != pair.sid:
            # Both lost the server; racing the observer's resume, upstream's
            # was now and then refused and it fell back to a full reconnect
            # (a new sid; twice in local CI on 2026-12-07). That is the
            # reference's own choice, its room back all the same; ours is
            # held to the resume.
            return
        pair.check_same_session("after the server paused")


@pytest.mark.parametrize("lib", [OURS, UPSTREAM])
def test_killed_server_ends_the_session(lib):
    """Its own server (this one dies): the attempts to come back fail, and the
    room ends with "disconnected" rather than hanging."""
    need(lib)
    workdir = tempfile.mkdtemp(prefix="lkffi-resume-")
    with testbed.LiveKitServer() as own:
        p = Peer(lib, "alone", own.url, own.token("alone", room=f"resume-killed-{lib}"), workdir)
        try:
            p.wait("ready", ev("ready"), BOUND_S)
            m = p.mark()
            killed = time.monotonic()
            own.kill()
            done = p.wait('"disconnected"', ev("disconnected"), KILLED_S, m)
            states = p.lifecycle(m)
            if states[:1] == ["state:CONNECTED"]:
                states = states[1:]  # upstream reports CONNECTED just after connect returns
            assert states[:2] == ["state:RECONNECTING", "reconnecting"], states
            assert states[-2:] == ["state:DISCONNECTED", "disconnected"], states
            assert "reconnected" not in states, states
            TIMINGS[("killed", lib)] = {"to_disconnected": done["t"] - killed}
            print(f"\nkilled {lib}: kill->disconnected {done['t'] - killed:.3f} s "
                  f"({done['reason_name']})")
        finally:
            p.stop()
            shutil.rmtree(workdir, ignore_errors=True)


# (publisher's library, listener's library, which of them resumes)
AUDIO_CASES = [(OURS, UPSTREAM, "publisher"), (UPSTREAM, OURS, "listener"),
               (UPSTREAM, UPSTREAM, "publisher")]  # the last: the reference, its gap printed


@pytest.mark.parametrize("publisher_lib,listener_lib,resumer", AUDIO_CASES,
                         ids=lambda v: str(v))
def test_tone_goes_on_through_a_resume(server, publisher_lib, listener_lib, resumer):
    """The resume restarts ICE under the same DTLS and SRTP: the tone,
    4 s in when one end loses its signal, still arrives whole."""
    need(publisher_lib)
    need(listener_lib)
    room = f"resume-audio-{publisher_lib}-{listener_lib}-{resumer}"
    extra = lambda role: [str(RESUME_AT_S)] if role == resumer else []
    listener = spawn(AUDIO_PEER, listener_lib, "listener", server.url,
                     server.token("listener", room=room), *extra("listener"))
    wait_ready(listener)
    publisher = spawn(AUDIO_PEER, publisher_lib, "publisher", server.url,
                      server.token("publisher", room=room), *extra("publisher"))
    wait_ready(publisher)
    sent = finish(publisher, timeout=90)
    heard = finish(listener, timeout=30)
    for out in (sent, heard):
        assert out["error"] is None, (out, server.tail())
    resumed = (sent if resumer == "publisher" else heard)["events"]
    names = [e[0] for e in resumed]
    assert "reconnecting" in names and "reconnected" in names, resumed
    assert names.index("reconnecting") < names.index("reconnected"), resumed
    a = heard["audio"]
    runs = loud_and_quiet(a["runs_ms"])
    print(f"\naudio {publisher_lib}->{listener_lib}, {resumer} resumes: first tone run "
          f"{runs[0][1] if runs else 0} ms, longest gap {a.get('gap_ms_max')} ms, "
          f"longest stall {a.get('stall_ms_max', 0):.0f} ms")
    assert a.get("peak_hz") is not None and abs(a["peak_hz"] - 440) < 2, a
    if OURS not in (publisher_lib, listener_lib):
        return  # the reference, measured only: upstream's own resume gapped 130 ms once
    assert runs and runs[0][0] == "loud" and runs[0][1] >= (TONE_S - 0.2) * 1000, a

"""Many audio tracks in a room, this library against upstream's, side by
side on one livekit-server: the CPU one more published or subscribed track
costs, and whether one listener keeps MANY subscribed tracks in real time
on this machine. Each run is a publisher of N microphone tracks (a steady
tone each) and a listener reading all N, through the unchanged upstream
Python SDK; per-track CPU is the difference between a run with more tracks
and one with a single track, so what a process spends regardless of its
tracks (the SDK, the connection) drops out. one_round says which library
is at which end.

    eval "$(scripts/testbed.sh)"; export LK_TESTBED_SERVER
    "$LK_TESTBED_PYTHON" bench/room_tracks.py build/liblivekit_ffi.so [OUT_DIR [MANY]]

Prints a table and, with OUT_DIR, writes room_tracks_MANY.md and .json."""
import os
import statistics
import subprocess
import sys

from room_bench import alternate, report, testbed

PEER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "room_tracks_peer.py")
ROUNDS = 2
SECONDS = 15
FEW = 10    # published tracks, for the CPU one more costs the publisher
MANY = 100  # subscribed tracks, for what one listener keeps in real time (argv[3])


def run(server, room, pub_lib, sub_lib, n):
    """A publisher of n tracks on pub_lib, a listener of them on sub_lib;
    None if either failed or overran its bounds (said on stderr)."""
    listener = testbed.spawn(PEER, sub_lib, "listener", server.url,
                             server.token("listener", room=room), str(n), str(SECONDS))
    publisher = None
    try:
        testbed.wait_ready(listener)
        publisher = testbed.spawn(PEER, pub_lib, "publisher", server.url,
                                  server.token("publisher", room=room), str(n), str(SECONDS))
        testbed.wait_ready(publisher)
        sent = testbed.finish(publisher, timeout=SECONDS + 240)
        heard = testbed.finish(listener, timeout=60)
    except (AssertionError, subprocess.TimeoutExpired, ValueError) as e:
        print(f"{room}: {type(e).__name__}: {str(e)[:300]}", file=sys.stderr)
        return None
    finally:
        for p in (publisher, listener):
            if p:
                p.kill()
                p.wait()
    for out in (sent, heard):
        if out["error"]:
            print(f"{room}: {out['error']}", file=sys.stderr)
            return None
    return {"publisher_cpu": sent["cpu_s"] / SECONDS, "listener_cpu": heard["cpu_s"] / SECONDS,
            "tracks": heard["tracks"]}


def one_round(server, lib, k):
    """Publishing: both ends on lib, 1 then FEW tracks. Subscribing: the
    listener on lib, 1 then MANY tracks from a publisher on this library
    (the same for both listeners, and able to publish MANY: upstream's
    renegotiates each new track more and more slowly)."""
    ours = testbed.OURS
    name = f"bench-tracks-{lib}-{k}"
    pub1, pubs = run(server, name + "-p1", lib, lib, 1), run(server, name + "-pf", lib, lib, FEW)
    sub1, subs = run(server, name + "-s1", ours, lib, 1), run(server, name + "-sm", ours, lib, MANY)
    r = {}
    if pub1 and pubs:
        r["pub_per_track"] = (pubs["publisher_cpu"] - pub1["publisher_cpu"]) / (FEW - 1)
    if sub1 and subs:
        r["sub_per_track"] = (subs["listener_cpu"] - sub1["listener_cpu"]) / (MANY - 1)
    if subs:
        r["many"] = subs
    return r


def median_of(rs, f):
    xs = [f(r) for r in rs if r is not None]
    return statistics.median(xs) if xs else None


def main(ours, out_dir=None):
    runs = alternate(ours, ROUNDS, one_round)
    rows = {}
    for lib, rs in runs.items():
        many = [r["many"] for r in rs if "many" in r]
        tracks = [t for m in many for t in m["tracks"]]
        pct_of = lambda x: None if x is None else 100 * x  # noqa: E731
        rows[lib] = {
            "pub_per_track_pct": pct_of(median_of(rs, lambda r: r.get("pub_per_track"))),
            "sub_per_track_pct": pct_of(median_of(rs, lambda r: r.get("sub_per_track"))),
            "sub_many_pct": pct_of(median_of(many, lambda m: m["listener_cpu"])),
            "heard_median_pct": pct_of(statistics.median(t["heard"] for t in tracks)
                                       if tracks else None),
            "heard_min_pct": pct_of(min(t["heard"] for t in tracks) if tracks else None),
            "gap_max_ms": max(t["max_gap_ms"] for t in tracks) if tracks else None,
            "many_runs_ok": len(many),
        }
    report(rows, (("pub_per_track_pct", "CPU per published track (% of a core)"),
                  ("sub_per_track_pct", "CPU per subscribed track (% of a core)"),
                  ("sub_many_pct", f"listener of {MANY} tracks, process CPU (% of a core)"),
                  ("heard_median_pct", f"{MANY} tracks: tone heard, median track (% of time)"),
                  ("heard_min_pct", f"{MANY} tracks: tone heard, worst track (% of time)"),
                  ("gap_max_ms", f"{MANY} tracks: longest wait for a frame (ms)"),
                  ("many_runs_ok", f"{MANY}-track runs completed (of {ROUNDS})")),
           out_dir, f"room_tracks_{MANY}",
           f"{MANY} audio tracks in a room: this library vs upstream's",
           f"`bench/room_tracks.py`, {ROUNDS} alternating rounds on one local livekit-server, "
           f"{SECONDS} s of audio per run, each track a steady 400 Hz tone at -20 dBFS, read "
           "through AudioStreams of 100 ms frames, through the upstream Python SDK. Publishing: "
           f"publisher and listener both on the library measured, with 1 and {FEW} tracks; "
           f"per-track CPU is the publisher's (CPU at {FEW} - CPU at 1) / {FEW - 1}. "
           f"Subscribing: the listener on the library measured, with 1 and {MANY} tracks from "
           f"a publisher on this library (upstream's could not publish {MANY} within the "
           f"bench's bounds); per-track CPU is the listener's (CPU at {MANY} - CPU at 1) / "
           f"{MANY - 1}. CPU is each whole process's, the SDK's own Python work included. "
           "'Heard' is the share of 100 ms frames within 3 dB of the tone's level, from each "
           "track's first loud frame over the time fed.")


if __name__ == "__main__":
    if len(sys.argv) > 3:
        MANY = int(sys.argv[3])
    main(*sys.argv[1:3])

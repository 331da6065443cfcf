"""Audio in a room, this library against upstream's, side by side on one
livekit-server: mouth-to-ear latency (a click handed to the talker's audio
source until it comes out of the listener's AudioStream) and the CPU the
talking and the listening process spend per second of audio. Both
participants run on the library measured (ours with ours, upstream's with
upstream's), through the unchanged upstream Python SDK, so the CPU figures
include the SDK's own Python work, the same on both sides.

    eval "$(scripts/testbed.sh)"; export LK_TESTBED_SERVER
    "$LK_TESTBED_PYTHON" bench/room_audio.py build/liblivekit_ffi.so [OUT_DIR]

Prints a table and, with OUT_DIR, writes room_audio.md and room_audio.json."""
import os
import statistics
import sys

from room_bench import alternate, pct, report, testbed

PEER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "room_audio_peer.py")
ROUNDS = 3
SECONDS = 20


def one_round(server, lib, n):
    room = f"bench-audio-{lib}-{n}"
    listener = testbed.spawn(PEER, lib, "listener", server.url,
                             server.token("listener", room=room), str(SECONDS))
    try:
        testbed.wait_ready(listener)
        talker = testbed.spawn(PEER, lib, "talker", server.url,
                               server.token("talker", room=room), str(SECONDS))
        testbed.wait_ready(talker)
        said = testbed.finish(talker, timeout=SECONDS + 120)
        heard = testbed.finish(listener, timeout=60)
    finally:
        listener.kill()
        listener.wait()
    for out in (said, heard):
        if out["error"]:
            raise RuntimeError(f"{lib}: {out['error']}")
    # each click to the first onset after it (within 400 ms: else lost)
    latencies, lost = [], 0
    for c in said["clicks"]:
        after = [t - c for t in heard["onsets"] if 0 <= t - c < 0.4]
        if after:
            latencies.append(min(after) * 1000)
        else:
            lost += 1
    return {"latency_ms": latencies, "lost": lost,
            "talker_cpu": said["cpu_s"] / said["audio_s"],
            "listener_cpu": heard["cpu_s"] / said["audio_s"]}


def main(ours, out_dir=None):
    runs = alternate(ours, ROUNDS, one_round)
    rows = {}
    for lib, rs in runs.items():
        lat = [x for r in rs for x in r["latency_ms"]]
        rows[lib] = {"m2e_p50_ms": pct(lat, 0.5), "m2e_p95_ms": pct(lat, 0.95),
                     "clicks_lost": sum(r["lost"] for r in rs),
                     "talker_cpu_pct": 100 * statistics.median(r["talker_cpu"] for r in rs),
                     "listener_cpu_pct": 100 * statistics.median(r["listener_cpu"] for r in rs)}
    report(rows, (("m2e_p50_ms", "mouth-to-ear p50 (ms)"),
                  ("m2e_p95_ms", "mouth-to-ear p95 (ms)"),
                  ("talker_cpu_pct", "talker process CPU (% of a core)"),
                  ("listener_cpu_pct", "listener process CPU (% of a core)"),
                  ("clicks_lost", "clicks not heard within 400 ms")),
           out_dir, "room_audio", "Audio in a room: this library vs upstream's",
           f"`bench/room_audio.py`, {ROUNDS} alternating rounds of {SECONDS} s on one local "
           "livekit-server; both participants on the library measured, through the upstream "
           "Python SDK. A click (20 ms of 1 kHz) every 0.5 s; mouth-to-ear is from handing it "
           "to the talker's audio source (20 ms queue) to its onset in the listener's "
           "AudioStream, one clock (CLOCK_MONOTONIC) for both processes. CPU per process "
           "includes the SDK's own Python work, the same on both sides.")


if __name__ == "__main__":
    main(*sys.argv[1:3])

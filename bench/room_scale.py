"""Many rooms in one process, this library against upstream's, side by side
on one livekit-server: a process holding ROOMS rooms, one participant in
each, each publishing a tone and subscribed to one; its CPU, peak RSS and
threads, and whether every room's audio stays whole. The other participant
of every room is a partner process on this library, the same for both
runs, so only the measured process changes library.

    eval "$(scripts/testbed.sh)"; export LK_TESTBED_SERVER
    "$LK_TESTBED_PYTHON" bench/room_scale.py build/liblivekit_ffi.so [OUT_DIR [ROOMS]]

Prints a table and, with OUT_DIR, writes room_scale_ROOMS.md and .json, and
(with matplotlib, through /usr/bin/python3) room_scale_ROOMS.png."""
import json
import os
import statistics
import subprocess
import sys
import tempfile

from room_bench import alternate, report, testbed

PEER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "room_scale_peer.py")
ROUNDS = 2
SECONDS = 20
ROOMS = 50  # argv[3]


def spawn(lib, *args):
    return subprocess.Popen([sys.executable, PEER, *args], env=testbed.peer_env(lib),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def one_round(server, lib, k):
    """The measured process on lib, its partner on this library; None if
    either failed or overran its bounds (said on stderr)."""
    rooms = [f"scale-{lib}-{k}-{i}" for i in range(ROOMS)]
    paths = []
    for who in ("measured", "partner"):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump([server.token(who, room=r) for r in rooms], f)
        paths.append(f.name)
    procs = []
    try:
        procs = [spawn(lib, server.url, paths[0], str(SECONDS)),
                 spawn(testbed.OURS, server.url, paths[1], str(SECONDS))]
        for p in procs:
            testbed.wait_ready(p)
        for p in procs:  # both feed at once
            p.stdin.write("go\n")
            p.stdin.flush()
        measured = testbed.finish(procs[0], timeout=SECONDS + 120)
        testbed.finish(procs[1], timeout=60)
    except (AssertionError, subprocess.TimeoutExpired, ValueError) as e:
        print(f"{lib} round {k}: {type(e).__name__}: {str(e)[:300]}", file=sys.stderr)
        return None
    finally:
        for p in procs:
            p.kill()
            p.wait()
        for path in paths:
            os.unlink(path)
    if measured["error"]:
        print(f"{lib} round {k}: {measured['error']}", file=sys.stderr)
        return None
    return measured


PANELS = (("cpu_pct", "CPU while the audio flows\n(% of a core)"),
          ("rss_peak_mb", "peak RSS (MB)"),
          ("threads", "threads"),
          ("join_all_s", "joining and publishing\nin every room (s)"),
          ("heard_median_pct", "tone heard,\nmedian room (%)"),
          ("gap_max_ms", "longest wait for a\nframe, any room (ms)"))


def chart(json_path, png_path, rooms):
    """Run by /usr/bin/python3 (matplotlib): each measure, side by side."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    with open(json_path) as f:
        rows = json.load(f)["rows"]
    libs = [lib for lib in ("ours", "upstream") if rows.get(lib)]
    fig, axes = plt.subplots(1, len(PANELS), figsize=(13, 3.4))
    for ax, (key, title) in zip(axes, PANELS):
        values = [rows[lib][key] or 0 for lib in libs]
        bars = ax.bar(libs, values, color=["tab:blue", "tab:orange"][:len(libs)])
        for b, v in zip(bars, values):
            ax.text(b.get_x() + b.get_width() / 2, v, f"{v:.3g}", ha="center", va="bottom")
        ax.set_title(title, fontsize=9)
        ax.set_ylim(0, max(values) * 1.2 or 1)
        ax.tick_params(labelsize=8)
    fig.suptitle(f"{rooms} rooms in one process: this library (ours) vs upstream's")
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)


def main(ours, out_dir=None):
    runs = alternate(ours, ROUNDS, one_round)
    rows = {}
    for lib, rs in runs.items():
        ok = [r for r in rs if r]
        rooms = [room for r in ok for room in r["rooms"]]

        def med(f):
            return statistics.median(f(r) for r in ok) if ok else None

        rows[lib] = {
            "cpu_pct": med(lambda r: 100 * r["cpu_s"] / SECONDS),
            "rss_peak_mb": med(lambda r: r["rss_peak_mb"]),
            "threads": med(lambda r: r["threads"]),
            "join_all_s": med(lambda r: r["join_all_s"]),
            "heard_median_pct": 100 * statistics.median(x["heard"] for x in rooms)
            if rooms else None,
            "heard_min_pct": 100 * min(x["heard"] for x in rooms) if rooms else None,
            "gap_max_ms": max(x["max_gap_ms"] for x in rooms) if rooms else None,
            "runs_ok": len(ok),
        }
    report(rows, (("cpu_pct", "process CPU while the audio flows (% of a core)"),
                  ("rss_peak_mb", "peak RSS (MB)"),
                  ("threads", "threads"),
                  ("join_all_s", f"joining and publishing in {ROOMS} rooms, one after another (s)"),
                  ("heard_median_pct", "tone heard, median room (% of time)"),
                  ("heard_min_pct", "tone heard, worst room (% of time)"),
                  ("gap_max_ms", "longest wait for a frame, any room (ms)"),
                  ("runs_ok", f"runs completed (of {ROUNDS})")),
           out_dir, f"room_scale_{ROOMS}", f"{ROOMS} rooms in one process: this library vs "
           "upstream's",
           f"`bench/room_scale.py`, {ROUNDS} alternating rounds on one local livekit-server. "
           f"The measured process, on the library measured, joins {ROOMS} rooms one after "
           "another and in each publishes a microphone track (a steady 400 Hz tone at -20 "
           "dBFS, fed in 100 ms frames) and reads the other participant's through an "
           "AudioStream of 100 ms frames; the other participant of every room is one partner "
           f"process on this library, the same for both. {SECONDS} s of audio; CPU is the "
           "measured process's over that window, the SDK's own Python work included. 'Heard' "
           "is the share of 100 ms frames within 3 dB of the tone's level, from each room's "
           "first loud frame over the time fed.")
    if out_dir:
        name = os.path.join(out_dir, f"room_scale_{ROOMS}")
        subprocess.run(["/usr/bin/python3", __file__, "--chart", name + ".json", name + ".png",
                        str(ROOMS)], check=False)
        with open(name + ".md", "a") as f:
            f.write(f"\n![each measure, side by side](room_scale_{ROOMS}.png)\n")


if __name__ == "__main__":
    if sys.argv[1] == "--chart":
        chart(*sys.argv[2:4], int(sys.argv[4]))
        sys.exit(0)
    if len(sys.argv) > 3:
        ROOMS = int(sys.argv[3])
    main(*sys.argv[1:3])

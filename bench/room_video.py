"""Video in a room, this library against upstream's, side by side on one
livekit-server: glass-to-glass latency (a picture handed to the camera's
VideoSource until it comes out of the watcher's VideoStream), the CPU a
process spends publishing a 1280x720 camera at 30 fps (one layer, and
upstream's default simulcast), and the CPU a process spends watching it.
Every participant runs the unchanged upstream Python SDK in its own
process; room_video_peer.py says what each does and what it measures.

    eval "$(scripts/testbed.sh)"; export LK_TESTBED_SERVER
    "$LK_TESTBED_PYTHON" bench/room_video.py build/liblivekit_ffi.so [OUT_DIR]

ROOM_VIDEO_ROUNDS and ROOM_VIDEO_SECONDS shorten a run while developing;
ROOM_VIDEO_FROM_JSON=room_video.json re-renders a run's tables.
Prints tables and, with OUT_DIR, writes room_video.md and room_video.json."""
import os
import statistics
import subprocess
import sys

from room_bench import alternate, pct, report, testbed

PEER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "room_video_peer.py")
ROUNDS = int(os.environ.get("ROOM_VIDEO_ROUNDS", 3))
SECONDS = float(os.environ.get("ROOM_VIDEO_SECONDS", 20))
VGA, HD = (640, 480), (1280, 720)
OURS, UPSTREAM = testbed.OURS, testbed.UPSTREAM


def other(lib):
    return UPSTREAM if lib == OURS else OURS


def run(server, room, pub_lib, sub_lib, size, simulcast):
    """A camera on pub_lib watched by one watcher on sub_lib, SECONDS
    measured; None if either failed or overran its bounds (said on stderr)."""
    args = [str(size[0]), str(size[1]), str(SECONDS)]
    watcher = testbed.spawn(PEER, sub_lib, "watcher", server.url,
                            server.token("watcher", room=room), *args)
    publisher = None
    try:
        testbed.wait_ready(watcher)
        publisher = testbed.spawn(PEER, pub_lib, "publisher", server.url,
                                  server.token("camera", room=room), *args,
                                  "1" if simulcast else "0")
        testbed.wait_ready(publisher)
        sent = testbed.finish(publisher, timeout=SECONDS + 200)
        seen = testbed.finish(watcher, timeout=60)
    except (AssertionError, subprocess.TimeoutExpired, ValueError) as e:
        print(f"{room}: {type(e).__name__}: {str(e)[:300]}", file=sys.stderr)
        return None
    finally:
        for p in (publisher, watcher):
            if p:
                p.kill()
                p.wait()
    for out in (sent, seen):
        if out["error"]:
            print(f"{room}: {out['error']}", file=sys.stderr)
            return None
    captures = sent["captures"]
    t0, t1 = seen["window"]
    lat, misread = [], 0
    for n, t in seen["arrivals"]:
        if not t0 <= t <= t1:
            continue
        if n >= len(captures) or t < captures[n]:
            misread += 1
        else:
            lat.append(1000 * (t - captures[n]))
    sent_in_window = sum(1 for t in captures if t0 <= t <= t1)
    r = {"pub_cpu": 100 * sent["cpu_s"] / sent["wall_s"],
         "sub_cpu": 100 * seen["cpu_s"] / seen["wall_s"],
         "lat_p50": pct(lat, 0.5) if lat else None, "lat_p90": pct(lat, 0.9) if lat else None,
         "fps": len(lat) / seen["wall_s"], "fps_sent": sent_in_window / seen["wall_s"],
         "misread": misread, "late": sent["late"], "sizes": seen["sizes"]}
    print(f"  {room}: {pub_lib}->{sub_lib} {size[0]}x{size[1]} sim={int(simulcast)}: "
          + ", ".join(f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}"
                      for k, v in r.items()), file=sys.stderr, flush=True)
    return r


def feed_only(lib):
    """The feeder on lib, no room: building and capturing frames alone."""
    p = testbed.spawn(PEER, lib, "feeder", "-", "-", str(HD[0]), str(HD[1]), str(SECONDS))
    try:
        testbed.wait_ready(p)
        out = testbed.finish(p, timeout=SECONDS + 60)
    except (AssertionError, subprocess.TimeoutExpired, ValueError) as e:
        print(f"feeder {lib}: {type(e).__name__}: {str(e)[:300]}", file=sys.stderr)
        return None
    finally:
        p.kill()
        p.wait()
    if out["error"]:
        print(f"feeder {lib}: {out['error']}", file=sys.stderr)
        return None
    return {"cpu": 100 * out["cpu_s"] / out["wall_s"], "late": out["late"]}


def one_round(server, lib, k):
    """Every run whose watcher (or feeder) is on lib: lib's camera at VGA
    for latency; at 720p with simulcast and with one layer; the other
    library's camera at 720p (the watcher's CPU with the same publisher
    for both, and the mixed latency); then feeding alone."""
    name = f"bench-video-{lib}-{k}"
    return {"vga": run(server, name + "-vga", lib, lib, VGA, False),
            "sim": run(server, name + "-sim", lib, lib, HD, True),
            "one": run(server, name + "-one", lib, lib, HD, False),
            "cross": run(server, name + "-x", other(lib), lib, HD, False),
            "feed": feed_only(lib)}


def med(rs, f):
    xs = []
    for r in rs:
        try:
            x = f(r)
        except (KeyError, TypeError):
            continue
        if x is not None:
            xs.append(x)
    return statistics.median(xs) if xs else None


def whole(run_):
    """A run whose CPU compares: the watcher got at least 90 % of the
    pictures sent (else one side did less work); None otherwise."""
    return run_ if run_ and run_["fps"] >= 0.9 * run_["fps_sent"] else None


def main(ours, out_dir=None):
    if os.environ.get("ROOM_VIDEO_FROM_JSON"):  # re-renders a run's tables
        import json
        with open(os.environ["ROOM_VIDEO_FROM_JSON"]) as f:
            runs = json.load(f)["runs"]
    else:
        runs = alternate(ours, ROUNDS, one_round)
    rows = {}
    for lib, rs in runs.items():
        # Watcher CPU with the same publisher for both watchers: ours
        # watching a camera on this library is its "one" run, upstream's
        # its "cross" run, and the other way round.
        by_pub = {lib: "one", other(lib): "cross"}
        rows[lib] = {
            "vga_p50": med(rs, lambda r: r["vga"]["lat_p50"]),
            "vga_p90": med(rs, lambda r: r["vga"]["lat_p90"]),
            "hd_p50": med(rs, lambda r: r["one"]["lat_p50"]),
            "hd_p90": med(rs, lambda r: r["one"]["lat_p90"]),
            "pub_one": med(rs, lambda r: whole(r["one"])["pub_cpu"]),
            "pub_sim": med(rs, lambda r: whole(r["sim"])["pub_cpu"]),
            "feed": med(rs, lambda r: r["feed"]["cpu"]),
            "pub_one_net": med(rs, lambda r: whole(r["one"])["pub_cpu"] - r["feed"]["cpu"]),
            "sub_own": med(rs, lambda r: whole(r["one"])["sub_cpu"]),
            "sub_pub_ours": med(rs, lambda r: whole(r[by_pub[OURS]])["sub_cpu"]),
            "sub_pub_up": med(rs, lambda r: whole(r[by_pub[UPSTREAM]])["sub_cpu"]),
            "sub_sim": med(rs, lambda r: whole(r["sim"])["sub_cpu"]),
            "vga_pub": med(rs, lambda r: whole(r["vga"])["pub_cpu"]),
            "vga_sub": med(rs, lambda r: whole(r["vga"])["sub_cpu"]),
            "hd_fps": med(rs, lambda r: r["one"]["fps"]),
            "sim_fps": med(rs, lambda r: r["sim"]["fps"]),
        }
    # The mixed pairings come from the "cross" runs (720p, one layer).
    mixed = {f"{other(lib)}->{lib}": {
        "p50": med(rs, lambda r: r["cross"]["lat_p50"]),
        "p90": med(rs, lambda r: r["cross"]["lat_p90"]),
        "fps": med(rs, lambda r: r["cross"]["fps"]),
        "runs": [None if r["cross"] is None else round(r["cross"]["fps"], 1) for r in rs]}
        for lib, rs in runs.items()}
    dropped = sum(1 for rs in runs.values() for r in rs for k in ("vga", "sim", "one", "cross")
                  if r[k] and not whole(r[k]))
    failed = sum(1 for rs in runs.values() for r in rs for k in ("vga", "sim", "one", "cross")
                 if not r[k])
    sizes = {lib: sorted({s for r in rs for run_ in ("sim",) if r.get(run_)
                          for s in r[run_]["sizes"]}) for lib, rs in runs.items()}
    measures = (
        ("vga_p50", "glass-to-glass 640x480, one layer, median (ms)"),
        ("vga_p90", "glass-to-glass 640x480, one layer, p90 (ms)"),
        ("hd_p50", "glass-to-glass 1280x720, one layer, median (ms)"),
        ("hd_p90", "glass-to-glass 1280x720, one layer, p90 (ms)"),
        ("pub_one", "publisher CPU 720p30, one layer (% of a core)"),
        ("pub_sim", "publisher CPU 720p30, simulcast asked (% of a core)"),
        ("feed", "feeding alone 720p30, no room (% of a core)"),
        ("pub_one_net", "publisher CPU 720p30 one layer, less feeding (% of a core)"),
        ("sub_own", "watcher CPU 720p30, camera on the same library (% of a core)"),
        ("sub_pub_ours", "watcher CPU 720p30, camera on this library (% of a core)"),
        ("sub_pub_up", "watcher CPU 720p30, camera on upstream's (% of a core)"),
        ("sub_sim", "watcher CPU 720p30, simulcast camera, same library (% of a core)"),
        ("vga_pub", "publisher CPU 640x480 one layer (% of a core)"),
        ("vga_sub", "watcher CPU 640x480 one layer (% of a core)"),
        ("hd_fps", "720p one layer: pictures received per second"),
        ("sim_fps", "720p simulcast: full-size pictures received per second"),
    )
    method = (
        f"`bench/room_video.py`, {ROUNDS} alternating rounds on one local livekit-server, "
        f"{SECONDS:.0f} s measured per run after {3:.0f} s of warm-up, medians over rounds "
        "(latency: the median over rounds of each run's median and p90). Every participant "
        "is its own process on the unchanged upstream Python SDK. The camera feeds "
        "precomputed I420 pictures (a moving pattern) at 30 fps with the frame's number "
        "stamped in as 16 squares; the watcher reads the number from 16 pixels of the Y "
        "plane of each picture out of its VideoStream (native I420, no conversion asked). "
        "Glass-to-glass = arrival in the watcher's `async for` - the publisher's "
        "time.monotonic() just before capture_frame (one clock for both processes). "
        "'One layer': simulcast=False, max_bitrate 1.7 Mbps, 30 fps, "
        "degradation MAINTAIN_FRAMERATE_AND_RESOLUTION on both libraries; 'simulcast asked': "
        "simulcast=True and default encodings (both send upstream's 3 layers for 720p). "
        "CPU is each whole process's (time.process_time: all threads, the SDK's Python "
        "included) over the measured window. 'Feeding alone' is a process that stamps "
        "and hands the same pictures to a VideoSource with no room. The 2 cores were "
        "shared with the server, the other participant and other work on the machine, "
        "so the figures carry some noise.")
    report(rows, measures, out_dir, "room_video",
           "Video in a room: this library vs upstream's", method)
    lines = ["", "Mixed pairings (720p, one layer; camera -> watcher):", "",
             "| pairing | median (ms) | p90 (ms) | pictures/s | pictures/s, each round |",
             "|---|---|---|---|---|"]
    for k, v in mixed.items():
        cells = ["failed" if x is None else f"{x:.1f}" for x in (v["p50"], v["p90"], v["fps"])]
        lines.append(f"| {k} | " + " | ".join(cells) + f" | {v['runs']} |")
    lines += ["", f"CPU rows count only runs in which the watcher got at least 90 % of the "
              f"pictures sent (the same work on both libraries): {dropped} room run(s) fell "
              f"short and were left out of them; {failed} room run(s) failed (a peer overran "
              "its bounds; on stderr).", "", "Picture sizes the watcher got from the simulcast camera: "
              + "; ".join(f"{lib}: {', '.join(s) or 'none'}" for lib, s in sizes.items()) + "."]
    text = "\n".join(lines) + "\n"
    print(text)
    if out_dir:
        with open(os.path.join(out_dir, "room_video.md"), "a") as f:
            f.write(text)
        import json
        with open(os.path.join(out_dir, "room_video.json"), "w") as f:
            json.dump({"rows": rows, "mixed": mixed, "runs": runs}, f, indent=1)


if __name__ == "__main__":
    main(*sys.argv[1:3])

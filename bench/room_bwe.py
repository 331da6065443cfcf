"""Does a video publisher adapt to a narrow uplink? A 1280x720 30 fps camera
with upstream's default simulcast (three layers) publishes from behind
tests/room/lossy_link.py's relay (no random loss, 20 ms each way); a
watcher on the server's side (upstream's library) receives it. The
publisher's uplink (the relay's from_ns direction) is left alone for
10 s, then limited to 600 kbit/s (a token bucket and a 150 ms drop-tail
queue) for 30 s, then unlimited again for 20 s, counted from the
watcher's first picture.

    eval "$(scripts/testbed.sh)"; export LK_TESTBED_SERVER
    "$LK_TESTBED_PYTHON" bench/room_bwe.py build/liblivekit_ffi.so [OUT_DIR]

The publisher runs on this library (the path given), then on the Rust
library the livekit wheel bundles, on the same link and server. Needs
root and /dev/net/tun (the link). Prints, per phase and per second, what the
publisher sent into the link (in_kbps: the rate it offered), what the
link forwarded to the server (fwd_kbps), the packets the rate queue
dropped and how long packets waited in it, the pictures the watcher got
and their size, and the longest freeze (wait between two pictures) per
phase; where the publisher's library reports its media stats (upstream's
does), also its bandwidth estimate and what each simulcast layer sent.
With OUT_DIR writes room_bwe.md and room_bwe.json (the raw bins, the
watcher's arrivals and the publisher's stats samples);
ROOM_BWE_FROM_JSON=room_bwe.json re-renders a run's tables.

An adapting sender offers at most about the limit a few seconds into the
shaped phase and the queue's drops stop; one that does not adapt keeps
offering its 2-3 Mbit/s, the queue drops most of it all along, and the
watcher's picture freezes. run() is the scenario, shared with
tests/room/test_video_bwe.py."""
import collections
import json
import os
import queue
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "room"))
import testbed  # noqa: E402
from lossy_link import LossyLink  # noqa: E402

PEER = os.path.join(HERE, "room_bwe_peer.py")
DELAY_MS = 20
# (name, seconds, uplink kbit/s or None)
PHASES = (("unshaped", 10, None), ("600k", 30, 600), ("unlimited", 20, None))


class Lines:
    """A process's stdout lines, read by a thread, so that waiting for one
    is bounded in time."""

    def __init__(self, proc):
        self.proc, self.q = proc, queue.Queue()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            self.q.put(line.rstrip("\n"))
        self.q.put(None)

    def next(self, timeout):
        """The next line, or None at the end or after timeout seconds."""
        try:
            return self.q.get(timeout=timeout)
        except queue.Empty:
            return None

    def result(self, timeout):
        """The JSON object the process ends with (it is killed if it has
        not within timeout seconds)."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.thread.join(timeout=10)
        last = None
        for _ in range(100000):
            try:
                line = self.q.get_nowait()
            except queue.Empty:
                break
            if line:
                last = line
        try:
            return json.loads(last)
        except (TypeError, ValueError):
            return {"error": f"no result (last line {last!r}, exit {self.proc.returncode})"}


def expect(lines, word, timeout):
    line = lines.next(timeout)
    if line is None or not line.startswith(word):
        raise RuntimeError(f"expected {word}, got {line!r}")
    return line


def run(link, server, pub_lib, phases=PHASES, watcher_lib=testbed.UPSTREAM, room="bwe",
        log=None, limited="uplink"):
    """The scenario: one publisher on pub_lib, one watcher on watcher_lib,
    phases applied to one direction of the link, one bin a second.
    limited "uplink": the publisher is in link's namespace, the watcher
    outside, the publisher's uplink (from_ns) is limited; "downlink": the
    other way round, the watcher's downlink (to_ns) is limited. Returns
    {"bins", "phases", "arrivals", "stats", "sent", "errors"}."""
    total = sum(p[1] for p in phases)
    direction = {"uplink": "from_ns", "downlink": "to_ns"}[limited]
    inside = {"netns": link.netns, "url": server.url_for(link.root_ip)}
    outside = {"netns": None, "url": server.url}
    pub_at, watch_at = (inside, outside) if limited == "uplink" else (outside, inside)
    link.set_rate(None)
    procs = []
    try:
        watcher = testbed.spawn(PEER, watcher_lib, "watcher", watch_at["url"],
                                server.token("watcher", room=room), str(total + 1),
                                netns=watch_at["netns"])
        procs.append(watcher)
        testbed.wait_ready(watcher)
        wl = Lines(watcher)
        publisher = testbed.spawn(PEER, pub_lib, "publisher", pub_at["url"],
                                  server.token("camera", room=room), netns=pub_at["netns"])
        procs.append(publisher)
        testbed.wait_ready(publisher)
        pl = Lines(publisher)
        expect(wl, "FIRST", 60)
        t0 = time.monotonic()
        bins = []
        prev = link.counters()
        starts = []
        k = 0
        for name, seconds, kbps in phases:
            link.set_rate(kbps, direction)
            starts.append(k)
            for _ in range(seconds):
                time.sleep(max(0.0, t0 + k + 1 - time.monotonic()))
                now = link.counters()
                a, b = prev[direction], now[direction]
                passed = b["rate_passed"] - a["rate_passed"]
                bins.append({
                    "t": k, "phase": name, "limit_kbps": kbps,
                    "in_kbps": (b["in_bytes"] - a["in_bytes"]) * 8 / 1000,
                    "fwd_kbps": (b["bytes"] - a["bytes"]) * 8 / 1000,
                    "in_packets": b["in_packets"] - a["in_packets"],
                    "rate_dropped": b["rate_dropped"] - a["rate_dropped"],
                    "wait_max_ms": b["rate_wait_max_ms"],
                    "wait_mean_ms": 1000 * (b["rate_wait_s"] - a["rate_wait_s"]) / passed
                    if passed else 0.0})
                prev = now
                if log:
                    log(bins[-1])
                k += 1
        link.set_rate(None)
        seen = wl.result(60)
        sent = pl.result(30)
    finally:
        link.set_rate(None)
        for p in procs:
            p.kill()
            p.wait(timeout=10)
    errors = [x["error"] for x in (sent, seen) if x.get("error")]
    arrivals = [(t - t0, w, h) for t, w, h in seen.get("arrivals", [])]
    stats = [(t - t0, layers, est) for t, layers, est in sent.get("stats", [])]
    bin_frames(bins, arrivals)
    bin_stats(bins, stats)
    summary = []
    for (name, seconds, kbps), start in zip(phases, starts):
        summary.append(phase_summary(name, kbps, bins[start:start + seconds], arrivals,
                                     start, start + seconds))
    return {"bins": bins, "phases": summary, "arrivals": arrivals, "stats": stats,
            "sent": {k: sent.get(k) for k in ("sent", "late", "stats_errors")},
            "errors": errors, "limited": limited}


def size(w, h):
    return f"{w}x{h}"


def bin_frames(bins, arrivals):
    for b in bins:
        inside = [a for a in arrivals if b["t"] <= a[0] < b["t"] + 1]
        b["frames"] = len(inside)
        sizes = collections.Counter(size(w, h) for _, w, h in inside)
        b["size"] = sizes.most_common(1)[0][0] if sizes else "-"


def bin_stats(bins, stats):
    """Per bin, from the publisher's own stats (if its library reports
    media): its bandwidth estimate and each layer's rate and size."""
    for b in bins:
        b["estimate_kbps"], b["layers"] = None, {}
    last = {}
    for t, layers, est in stats:
        k = int(t)
        if not 0 <= k < len(bins):
            for layer in layers:
                last[layer["rid"]] = (t, layer["bytes_sent"])
            continue
        b = bins[k]
        if est:
            b["estimate_kbps"] = est / 1000
        for layer in layers:
            rid = layer["rid"] or "-"
            if rid in last and t > last[rid][0]:
                kbps = (layer["bytes_sent"] - last[rid][1]) * 8 / 1000 / (t - last[rid][0])
                b["layers"][rid] = {"kbps": round(kbps, 1),
                                    "size": size(layer["width"], layer["height"]),
                                    "limited_by": layer["limited_by"]}
            last[rid] = (t, layer["bytes_sent"])


def longest_freeze(arrivals, start, end, running=True):
    """The longest stretch of [start, end) without a picture arriving, to
    end if pictures stopped; running: counted from the last picture before
    start (a freeze going on at start is part of it: what a user sees at
    start + 1), else from start."""
    times = [a[0] for a in arrivals]
    before = [t for t in times if t < start]
    first = before[-1] if running and before else start
    points = [first] + [t for t in times if start <= t < end] + [end]
    return max(b - a for a, b in zip(points, points[1:]))


def phase_summary(name, kbps, bins, arrivals, start, end):
    inside = [a for a in arrivals if start <= a[0] < end]
    sizes = collections.Counter(size(w, h) for _, w, h in inside)
    n = len(bins)
    tail = bins[n // 2:]  # its second half: where an adapting sender has settled
    pk = sum(b["in_packets"] for b in bins)
    under = settled = first = None
    if kbps:
        first = next((i for i in range(n) if bins[i]["in_kbps"] <= kbps), None)
        # from which second on every 3 s of offered rate average within
        # 10 % of the limit (one second is too short: a probe, a keyframe)
        for i in range(n):
            if all(sum(b["in_kbps"] for b in bins[j:j + 3]) / len(bins[j:j + 3]) <= 1.1 * kbps
                   for j in range(i, n)):
                under = i
                break
        # and from which second on the queue drops nothing more
        settled = next((i for i in range(n) if not any(b["rate_dropped"] for b in bins[i:])),
                       None)
    return {
        "phase": name, "limit_kbps": kbps, "seconds": n,
        "in_kbps": sum(b["in_kbps"] for b in bins) / n if n else None,
        "in_kbps_2nd_half": sum(b["in_kbps"] for b in tail) / len(tail) if tail else None,
        "fwd_kbps": sum(b["fwd_kbps"] for b in bins) / n if n else None,
        "rate_dropped": sum(b["rate_dropped"] for b in bins),
        "drop_share": sum(b["rate_dropped"] for b in bins) / pk if pk else 0.0,
        "drop_share_2nd_half": (sum(b["rate_dropped"] for b in tail)
                                / max(1, sum(b["in_packets"] for b in tail))),
        "wait_max_ms": max((b["wait_max_ms"] for b in bins), default=0.0),
        "fps": len(inside) / n if n else None,
        "sizes": dict(sizes.most_common()),
        "longest_freeze_s": longest_freeze(arrivals, start, end, running=False),
        "frozen_at_start_s": start - max([a[0] for a in arrivals if a[0] < start],
                                         default=start),
        "first_picture_s": min([a[0] - start for a in inside], default=None),
        "first_under_limit_s": first,
        "under_limit_from_s": under,
        "no_drops_from_s": settled,
    }


def fmt(x, spec=".0f"):
    return "-" if x is None else format(x, spec)


def tables(lib, result):
    who = (f"Publisher on {lib}; watcher on upstream's library; the publisher's uplink limited."
           if result["limited"] == "uplink" else
           f"Publisher on upstream's library; watcher on {lib}; the watcher's downlink limited.")
    out = [who, "",
           "| phase | limit | offered kbit/s (mean) | offered, 2nd half | "
           "forwarded kbit/s | queue drops (share of packets) | drops, 2nd half | "
           "longest queue wait (ms) | pictures/s | sizes received (pictures) | "
           "longest freeze in it (s) | frozen at its start for (s) | "
           "first second offered <= limit | "
           "offered <= 1.1 x limit (3 s mean) from | no more drops from |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for p in result["phases"]:
        sizes = ", ".join(f"{k}: {v}" for k, v in p["sizes"].items()) or "none"
        first, under, settled = ("-" if not p["limit_kbps"] else
                                 "never" if p[k] is None else f"{p[k]} s"
                                 for k in ("first_under_limit_s", "under_limit_from_s",
                                           "no_drops_from_s"))
        out.append(
            f"| {p['phase']} | {p['limit_kbps'] or 'none'} | {fmt(p['in_kbps'])} | "
            f"{fmt(p['in_kbps_2nd_half'])} | {fmt(p['fwd_kbps'])} | {p['rate_dropped']} "
            f"({100 * p['drop_share']:.1f} %) | {100 * p['drop_share_2nd_half']:.1f} % | "
            f"{fmt(p['wait_max_ms'])} | {fmt(p['fps'], '.1f')} | {sizes} | "
            f"{p['longest_freeze_s']:.2f} | {p['frozen_at_start_s']:.2f} | {first} | "
            f"{under} | {settled} |")
    out += ["", "Per second (offered: into the link; fwd: out of it to the server; "
            "estimate and layers: the publisher's own stats, where its library reports them):",
            "", "| t (s) | limit | offered | fwd | drops | wait max/mean (ms) | pictures | "
            "size | estimate | layers sent: rid kbit/s size |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for b in result["bins"]:
        layers = "; ".join(f"{rid} {v['kbps']:.0f} {v['size']}"
                           + ("" if v["limited_by"] == "NONE"
                              else f" ({v['limited_by']})")
                           for rid, v in sorted(b["layers"].items()))
        out.append(f"| {b['t']} | {b['limit_kbps'] or '-'} | {b['in_kbps']:.0f} | "
                   f"{b['fwd_kbps']:.0f} | {b['rate_dropped']} | {b['wait_max_ms']:.0f}/"
                   f"{b['wait_mean_ms']:.0f} | {b['frames']} | {b['size']} | "
                   f"{fmt(b['estimate_kbps'])} | {layers or '-'} |")
    if result["errors"]:
        out += ["", f"Errors: {result['errors']}"]
    return "\n".join(out)


def compare(results):
    """One row per library: the narrow phase and the phase after it."""
    out = ["| library | offered in the limit, 2nd half (kbit/s) | queue drops in the limit "
           "(2nd half) | no more drops from | pictures/s in the limit | sizes in the limit | "
           "longest freeze in the limit (s) | after the lift: first 1280x720 picture (s) |",
           "|---|---|---|---|---|---|---|---|"]
    for tag, r in results.items():
        limited = next(p for p in r["phases"] if p["limit_kbps"])
        i = r["phases"].index(limited)
        after = r["phases"][i + 1] if i + 1 < len(r["phases"]) else None
        lift = sum(p["seconds"] for p in r["phases"][:i + 1])
        top = [a[0] - lift for a in r["arrivals"] if a[0] >= lift and a[1] >= 1280]
        sizes = ", ".join(f"{k}: {v}" for k, v in limited["sizes"].items()) or "none"
        settled = limited["no_drops_from_s"]
        out.append(
            f"| {tag} | {fmt(limited['in_kbps_2nd_half'])} | "
            f"{100 * limited['drop_share']:.1f} % ({100 * limited['drop_share_2nd_half']:.1f} %)"
            f" | {'never' if settled is None else f'{settled} s'} | {fmt(limited['fps'], '.1f')}"
            f" | {sizes} | {limited['longest_freeze_s']:.2f} | "
            f"{fmt(min(top) if top and after else None, '.1f')} |")
    return "\n".join(out)


def report(results):
    parts = [compare(results)]
    for tag, r in results.items():
        parts += ["", f"## {tag}", "", tables(r["lib"], r)]
    return "\n".join(parts)


def rerender(path):
    """The tables of a run's JSON, the summaries recomputed from the bins."""
    with open(path) as f:
        saved = json.load(f)
    for r in saved["results"].values():
        start = 0
        r["phases"] = []
        for name, seconds, kbps in saved["phases_spec"]:
            r["phases"].append(phase_summary(name, kbps, r["bins"][start:start + seconds],
                                             r["arrivals"], start, start + seconds))
            start += seconds
    print(report(saved["results"]))


def main(ours_lib, out_dir=None):
    """Ours, then upstream's, on the same link and server, one after the
    other (one room each)."""
    if os.environ.get("ROOM_BWE_FROM_JSON"):
        return rerender(os.environ["ROOM_BWE_FROM_JSON"])
    os.environ["LIVEKIT_FFI_OURS"] = os.path.abspath(ours_lib)
    why = LossyLink.unavailable()
    if why:
        sys.exit(f"room_bwe: {why}")
    results = {}
    with LossyLink(loss=0.0, delay_ms=DELAY_MS, jitter_ms=0, seed=1) as link:
        with testbed.LiveKitServer(advertise=link.root_ip) as server:
            for lib, tag, name in ((testbed.OURS, "ours", ours_lib),
                                   (testbed.UPSTREAM, "upstream", "upstream's library")):
                results[tag] = run(link, server, lib, room=f"bwe-{tag}",
                                   log=lambda b, tag=tag: print(
                                       f"  {tag} t={b['t']} in {b['in_kbps']:.0f} kbit/s, "
                                       f"drops {b['rate_dropped']}", file=sys.stderr,
                                       flush=True))
                results[tag]["lib"] = name
    text = report(results)
    print(text)
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        with open(os.path.join(out_dir, "room_bwe.json"), "w") as f:
            json.dump({"phases_spec": PHASES, "results": results}, f, indent=1)
        with open(os.path.join(out_dir, "room_bwe.md"), "w") as f:
            f.write(f"# Video publisher on a narrow uplink\n\n{time.strftime('%Y-%m-%d')}, "
                    f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the "
                    f"end. `bench/room_bwe.py`: phases {PHASES} (name, s, uplink kbit/s), "
                    f"{DELAY_MS} ms each way, no random loss; ours then upstream's on one "
                    f"server and link.\n\n{text}\n")
    return results


if __name__ == "__main__":
    main(*sys.argv[1:3])

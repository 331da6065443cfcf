"""The room demo: a livekit-server on loopback and two participants, each a
process running the unchanged upstream Python SDK (python/room_demo_peer.py),
one on this library and one on upstream's Rust library (bundled in the PyPI
`livekit` wheel). They exchange data packets and RPC calls and talk to each
other in tones; this prints what each side saw, side by side.

    eval "$(scripts/testbed.sh)"; export LK_TESTBED_SERVER
    "$LK_TESTBED_PYTHON" python/room_demo.py build/liblivekit_ffi.so

Exits 1 if a side failed or heard the wrong tone."""
import importlib.metadata
import os
import shutil
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "room"))
import testbed  # noqa: E402  (the server and process helpers the room tests use)

PEER = os.path.join(HERE, "room_demo_peer.py")
# identity (= which library), column label, the tone it plays
SIDES = {testbed.OURS: ("ours (C)", 440), testbed.UPSTREAM: ("upstream (Rust)", 660)}
PEER_TIMEOUT_S = 45  # beyond the peer's own 30 s bound


def report(p):
    """The peer's JSON line, or what went wrong if it printed none."""
    try:
        return testbed.finish(p, timeout=PEER_TIMEOUT_S)
    except Exception as e:
        return {"error": f"no report ({e!r}, exit status {p.poll()})"}


def num(x, digits=0):
    return "-" if x is None else f"{x:.{digits}f}"


def short(path):
    """A library path, relative to here or to the home directory."""
    if path.startswith(os.getcwd() + "/"):
        return os.path.relpath(path)
    return path.replace(os.path.expanduser("~"), "~", 1)


def spread(xs):
    if not xs:
        return "-"
    xs = sorted(xs)
    return f"{xs[len(xs) // 2]:.1f} (max {xs[-1]:.1f})"


def other(lib):
    return testbed.UPSTREAM if lib == testbed.OURS else testbed.OURS


def rows(r, other_hz, both_in):
    h = r.get("heard", {})
    heard_ok = abs(h.get("peak_hz", 0) - other_hz) < 5
    cont = (f"yes, {h['seconds']:.1f} s, no gap" if h.get("gaps_10ms") == 0
            else f"no: {h['gaps_10ms']} quiet 10 ms frames" if h else "-")
    return {
        "joined in (ms)": num(r.get("join_ms")),
        "saw the other, ms after both in (*)":
        f"{max(0, r['saw_other_at'] - both_in) * 1000:.0f}" if "saw_other_at" in r else "-",
        "data round trip (ms)": spread(r.get("data_rtt_ms")),
        "RPC round trip (ms)": spread(r.get("rpc_rtt_ms")),
        "published its mic in (ms)": num(r.get("publish_ms"), 1),
        "heard the other's tone (Hz)": (f"{h['peak_hz']:.1f}" + ("" if heard_ok else " (wrong)"))
        if h else "-",
        "  its level (dBFS; sent at -10)": f"{h['level_dbfs']:.1f}" if h else "-",
        "  SNR, median/min (dB)": f"{h['snr_db_median']:.0f} / {h['snr_db_min']:.0f}" if h else "-",
        "  continuous": cont,
        "left in (ms)": num(r.get("leave_ms")),
    }, heard_ok


def ready(p):
    """testbed.wait_ready, bounded: a peer that never prints is killed."""
    timer = threading.Timer(PEER_TIMEOUT_S, p.kill)
    timer.start()
    try:
        testbed.wait_ready(p)
    finally:
        timer.cancel()


def main(ours_lib):
    os.environ["LIVEKIT_FFI_OURS"] = os.path.abspath(ours_lib)  # testbed.spawn reads it
    server = testbed.LiveKitServer()
    procs, results = {}, {}
    t0 = time.monotonic()
    try:
        server.start()
        version = os.path.basename(os.path.dirname(server.binary))
        print(f"{version} on {server.url} (up in {time.monotonic() - t0:.1f} s); "
              f"upstream Python SDK livekit {importlib.metadata.version('livekit')} in both "
              "participants")
        # One after the other, so neither join time includes the other
        # process starting up beside it.
        for lib, (_, hz) in SIDES.items():
            procs[lib] = testbed.spawn(PEER, lib, server.url, server.token(lib, room="demo"),
                                       other(lib), str(hz))
            ready(procs[lib])
        for lib, p in procs.items():
            results[lib] = report(p)
    except (AssertionError, RuntimeError) as e:  # no server, or a peer could not join
        results = None
        print(f"room demo FAILED: {e}")
    finally:
        for p in procs.values():  # already done unless one overran
            p.kill()
            p.wait()
        server.stop()
    if results is None:
        return 1

    both_in = max(r.get("joined_at", 0) for r in results.values())
    ok = True
    table = {}
    for lib, r in results.items():
        table[lib], heard_ok = rows(r, SIDES[other(lib)][1], both_in)
        ok &= heard_ok and not r.get("error")
    for lib, (label, hz) in SIDES.items():
        print(f"  {label:16} loads {short(results[lib].get('library', '?'))}; plays {hz} Hz")
    width = max(len(k) for k in table[testbed.OURS])
    print(f"  {'':{width}}  {SIDES[testbed.OURS][0]:22}  {SIDES[testbed.UPSTREAM][0]}")
    for k in table[testbed.OURS]:
        print(f"  {k:{width}}  {table[testbed.OURS][k]:22}  {table[testbed.UPSTREAM][k]}")
    print("  (*) livekit-server tells those already in a room about a newcomer in batches, "
          "every 3 s")
    for lib, r in results.items():
        if r.get("error"):
            print(f"  {SIDES[lib][0]} failed: {r['error']}")
    print(f"room demo {'done' if ok else 'FAILED'} in {time.monotonic() - t0:.1f} s"
          + ("" if ok else f"; server log: {server.log_path}"))
    if ok:
        shutil.rmtree(server.dir, ignore_errors=True)  # the server's config and log
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

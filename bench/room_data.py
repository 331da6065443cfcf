"""Data in a room, this library against upstream's, side by side on one
livekit-server: a ping (publish, the peer publishes it back) and an RPC
call, each timed in sequence, a 30 MB bulk transfer in 15 kB reliable
packets, and a 10 MB file sent as a data stream. Both participants run on the library measured (ours with ours,
upstream's with upstream's), through the unchanged upstream Python SDK.

    eval "$(scripts/testbed.sh)"; export LK_TESTBED_SERVER
    "$LK_TESTBED_PYTHON" bench/room_data.py build/liblivekit_ffi.so [OUT_DIR]

Prints a table and, with OUT_DIR, writes room_data.md and room_data.json."""
import os
import statistics
import sys

from room_bench import alternate, pct, report, testbed

PEER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "room_data_peer.py")
ROUNDS = 3


def one_round(server, lib, n):
    room = f"bench-{lib}-{n}"
    echo = testbed.spawn(PEER, lib, "echo", server.url, server.token("echo", room=room))
    try:
        testbed.wait_ready(echo)
        m = testbed.spawn(PEER, lib, "measure", server.url, server.token("measure", room=room))
        testbed.wait_ready(m)
        return testbed.finish(m, timeout=300)
    finally:
        echo.kill()
        echo.wait()


def main(ours, out_dir=None):
    runs = alternate(ours, ROUNDS, one_round)
    rows = {}
    for lib, rs in runs.items():
        ping = [x for r in rs for x in r["ping_ms"]]
        rpc = [x for r in rs for x in r["rpc_ms"]]
        rows[lib] = {"ping_p50_ms": pct(ping, 0.5), "ping_p99_ms": pct(ping, 0.99),
                     "rpc_p50_ms": pct(rpc, 0.5), "rpc_p99_ms": pct(rpc, 0.99),
                     "bulk_mb_s": statistics.median(r["bulk_mb_s"] for r in rs),
                     "file_mb_s": statistics.median(r["file_mb_s"] for r in rs)}
    report(rows, (("ping_p50_ms", "data round trip p50 (ms)"),
                  ("ping_p99_ms", "data round trip p99 (ms)"),
                  ("rpc_p50_ms", "RPC round trip p50 (ms)"),
                  ("rpc_p99_ms", "RPC round trip p99 (ms)"),
                  ("bulk_mb_s", "reliable throughput, median (MB/s)"),
                  ("file_mb_s", "send_file of 10 MB as a byte stream, median (MB/s)")),
           out_dir, "room_data", "Data in a room: this library vs upstream's",
           f"`bench/room_data.py`, {ROUNDS} alternating rounds on one local livekit-server; "
           "both participants on the library measured, through the upstream Python SDK. "
           "Round trips: 300 pings and 200 RPC calls per round, in sequence; throughput: "
           "30 MB in 15 kB reliable packets, and a 10 MB file sent with send_file until the "
           "peer has read it all. Ratio: this library / upstream (lower is better for times, "
           "higher for throughput).")


if __name__ == "__main__":
    main(*sys.argv[1:3])

"""The agent-worker scenario, the reason the fork problem was reported: a
warm worker process, in a room of its own, runs jobs one after another; a
job joins a room, publishes a microphone track, answers an RPC and leaves.
Three ways to start a job, on one livekit-server:

  fork    this library: fork(), livekit_ffi_reinit() in the child (what the
          Python client's fork hook calls), then the job;
  spawn   the usual workaround: a new Python process that imports the SDK
          and runs the job (both libraries);
  fork, no reinit   upstream's library, which has no reinit: the child
          tries the job, bounded, and never joins.

Measured: fork (or spawn) → joined, and → joined and publishing, per job;
whether each job was heard and answered its RPC (a dispatcher participant
on upstream's library checks); the worker's own room after each job.

    eval "$(scripts/testbed.sh)"; export LK_TESTBED_SERVER
    "$LK_TESTBED_PYTHON" bench/agent_fork.py build/liblivekit_ffi.so [OUT_DIR]

Prints a table and, with OUT_DIR, writes agent_fork.md, agent_fork.json and
(with matplotlib, through /usr/bin/python3) agent_fork.png."""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.path.join(HERE, "agent_fork_peer.py")
RUNS = (("ours", "fork", 20), ("ours", "spawn", 5), ("upstream", "spawn", 5),
        ("upstream", "fork-no-reinit", 1))


def run(server, testbed, lib, mode, jobs):
    home = f"home-{lib}-{mode}"
    tokens = {"jobs": {}, "dispatcher": {}}
    for i in range(jobs):
        name, room = f"{mode}-{i}", f"agent-{lib}-{mode}-{i}"
        tokens["jobs"][name] = server.token("agent", room=room)
        tokens["dispatcher"][name] = server.token("dispatcher", room=room)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(tokens, f)
    try:
        d = testbed.spawn(PEER, testbed.UPSTREAM, "dispatcher", server.url,
                          server.token("dispatcher", room=home), f.name)
        try:
            testbed.wait_ready(d)
            w = testbed.spawn(PEER, testbed.OURS if lib == "ours" else testbed.UPSTREAM,
                              "worker", server.url, server.token("worker", room=home), f.name,
                              mode, str(jobs))
            testbed.wait_ready(w)
            got = testbed.finish(w, timeout=120 + 60 * jobs)
        finally:
            seen = testbed.finish(d, timeout=120)
    finally:
        os.unlink(f.name)
    got["dispatcher"] = seen
    return got


def summarize(got, jobs):
    ok = [j for j in got["jobs"] if not j.get("error")]
    seen = (got.get("dispatcher") or {}).get("jobs", {})
    row = {"jobs": jobs, "joined": len(ok),
           "answered": sum(1 for j in ok if j.get("answered")),
           "heard": sum(1 for s in seen.values() if s.get("heard")),
           "rpc_done": sum(1 for s in seen.values() if s.get("rpc") == "done"),
           "pings_ok": got.get("pings_ok", 0), "error": got.get("error"),
           "job_errors": sorted({j["error"] for j in got["jobs"] if j.get("error")})}
    for key in ("joined_ms", "publishing_ms"):
        xs = sorted(j[key] for j in ok)
        row[key] = {"median": statistics.median(xs), "max": xs[-1], "all": xs} if xs else None
    return row


def table(rows):
    def ms(r, key, what="median"):
        return f"{r[key][what]:.1f}" if r.get(key) else "never"

    lines = ["| start | library | jobs | joined | → joined, median (ms) | max (ms) | "
             "→ publishing, median (ms) | heard | RPC answered | worker's room after each | "
             "what went wrong |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for (lib, mode, _), r in zip(RUNS, rows):
        lines.append(f"| {mode} | {lib} | {r['jobs']} | {r['joined']} | {ms(r, 'joined_ms')} | "
                     f"{ms(r, 'joined_ms', 'max')} | {ms(r, 'publishing_ms')} | {r['heard']} | "
                     f"{r['rpc_done']} | {r['pings_ok']} | "
                     f"{'; '.join(r['job_errors'] + [r['error'] or '']).strip('; ') or '—'} |")
    return "\n".join(lines)


def chart(json_path, png_path):
    """Run by /usr/bin/python3 (matplotlib): each job's fork or spawn to
    joined-and-publishing, per way of starting it."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    with open(json_path) as f:
        rows = json.load(f)["rows"]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    labels = []
    for i, r in enumerate(rows):
        labels.append(f"{r['mode']}\n{r['lib']}")
        xs = r["publishing_ms"]["all"] if r.get("publishing_ms") else []
        if xs:
            ax.scatter([i] * len(xs), xs, s=14, alpha=0.6)
            ax.hlines(statistics.median(xs), i - 0.3, i + 0.3, color="black")
        else:
            ax.text(i, 20, "never joins\n(hangs)", ha="center", va="center", color="firebrick")
    ax.set_yscale("log")
    ax.set_ylim(3, 3000)
    ax.set_xlim(-0.5, len(rows) - 0.5)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(labels)
    ax.set_ylabel("start → joined and publishing (ms, log)")
    ax.axhline(50, color="grey", linestyle=":", linewidth=1)
    ax.text(len(rows) - 0.55, 52, "50 ms", ha="right", va="bottom", color="grey")
    ax.set_title("Agent worker: a job per child, on one livekit-server")
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)


def main(ours, out_dir=None):
    sys.path.insert(0, os.path.join(HERE, "..", "tests", "room"))
    import testbed
    os.environ["LIVEKIT_FFI_OURS"] = ours
    rows = []
    with testbed.LiveKitServer() as server:
        for lib, mode, jobs in RUNS:
            r = summarize(run(server, testbed, lib, mode, jobs), jobs)
            r.update(lib=lib, mode=mode)
            rows.append(r)
    text = table(rows)
    print(text)
    if not out_dir:
        return
    os.makedirs(out_dir, exist_ok=True)
    json_path = os.path.join(out_dir, "agent_fork.json")
    with open(json_path, "w") as f:
        json.dump({"rows": rows}, f, indent=1)
    with open(os.path.join(out_dir, "agent_fork.md"), "w") as f:
        f.write(f"# The agent-worker scenario: a job per fork child\n\n"
                f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, load average "
                f"{os.getloadavg()[0]:.1f} at the end. `bench/agent_fork.py`, on one local "
                "livekit-server: a warm worker (in a room of its own) runs jobs in a row; a "
                "job joins its room, publishes a microphone track, answers an RPC and leaves. "
                "Times from fork() (or from starting a new Python process) to the job's room "
                "connected, and to its track published. A dispatcher on upstream's library "
                "hears each job's voice and calls its RPC; the worker pings it in its own "
                "room after every job. Upstream's child, which cannot reinit, is given "
                f"5 s to join.\n\n{text}\n\n![each job](agent_fork.png)\n")
    subprocess.run(["/usr/bin/python3", __file__, "--chart", json_path,
                    os.path.join(out_dir, "agent_fork.png")], check=False)


if __name__ == "__main__":
    if sys.argv[1] == "--chart":
        chart(sys.argv[2], sys.argv[3])
    else:
        main(*sys.argv[1:3])

"""What the room benchmarks share: rounds alternated between this library
and upstream's on one livekit-server (so drift hits both alike), and the
table of medians with their ratio."""
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "room"))
import testbed  # noqa: E402


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def alternate(ours, rounds, one_round):
    """{library: [one_round(server, library, n) for each round]}."""
    os.environ["LIVEKIT_FFI_OURS"] = ours
    runs = {testbed.OURS: [], testbed.UPSTREAM: []}
    with testbed.LiveKitServer() as server:
        for n in range(rounds):
            for lib in (testbed.OURS, testbed.UPSTREAM):
                runs[lib].append(one_round(server, lib, n))
    return runs


def report(rows, measures, out_dir, name, title, method):
    """Prints the table of rows[library][key] for (key, label) in measures
    and, with out_dir, writes name.md (title, method, the table) and
    name.json."""
    o, u = rows[testbed.OURS], rows[testbed.UPSTREAM]
    lines = ["| measure | this library | upstream | ratio |", "|---|---|---|---|"]
    def cell(x):
        return "failed" if x is None else f"{x:.2f}"

    for k, label in measures:
        ratio = f"{o[k] / u[k]:.2f}" if o[k] is not None and u[k] else "n/a"
        lines.append(f"| {label} | {cell(o[k])} | {cell(u[k])} | {ratio} |")
    table = "\n".join(lines)
    print(table)
    if not out_dir:
        return
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, name + ".json"), "w") as f:
        json.dump({"rows": rows}, f, indent=1)
    with open(os.path.join(out_dir, name + ".md"), "w") as f:
        f.write(f"# {title}\n\n{time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, load "
                f"average {os.getloadavg()[0]:.1f} at the end. {method}\n\n{table}\n")

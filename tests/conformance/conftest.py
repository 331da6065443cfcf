"""Runs every case against both libraries, once per session.

Each library runs in runner.py processes of its own (the two side by side),
so a case that aborts one (upstream is built with panic=abort) or hangs it
is recorded against that case and the rest still run. Upstream comes from
bench/upstream/fetch.sh; when it cannot be fetched, the suite is skipped
and says why. LKFFI_UPSTREAM_LIB and LKFFI_UPSTREAM_STUB point at a copy
already on disk.
"""

import json
import os
import selectors
import subprocess
import sys
import threading

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import cases  # noqa: E402

CASE_TIMEOUT = 60  # seconds without a word from the runner: it hangs
SKIPPED = 77  # the exit status that tells ctest the suite was skipped
skip_reason = None


def upstream_paths():
    """(stub, library), or a reason why the upstream library is not here."""
    if os.environ.get("LKFFI_UPSTREAM_LIB"):
        return (os.environ["LKFFI_UPSTREAM_STUB"], os.environ["LKFFI_UPSTREAM_LIB"]), None
    try:
        p = subprocess.run([os.path.join(ROOT, "bench", "upstream", "fetch.sh")],
                           capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, "bench/upstream/fetch.sh failed: %s" % e
    if p.returncode != 0:
        return None, "upstream library unavailable: " + (p.stderr.strip() or "fetch.sh failed")
    stub, lib = p.stdout.split()
    return (stub, lib), None


def run_cases(lib, preload, names, log):
    """{case: outcome} where an outcome has "result", "exception", "crashed"
    (exit status) or "hung"."""
    outcomes, remaining = {}, list(names)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [HERE, os.path.join(ROOT, "python"), os.environ.get("PYTHONPATH", "")]))
    while remaining:
        p = subprocess.Popen([sys.executable, os.path.join(HERE, "runner.py"), lib, *preload],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env)
        p.stdin.write("\n".join(remaining).encode() + b"\n")
        p.stdin.close()
        started, buf, hung = None, b"", False
        sel = selectors.DefaultSelector()
        sel.register(p.stdout, selectors.EVENT_READ)
        while True:
            if not sel.select(CASE_TIMEOUT):
                hung = True
                p.kill()
                break
            chunk = os.read(p.stdout.fileno(), 1 << 20)
            if not chunk:
                break
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                rec = json.loads(line)
                if "start" in rec:
                    started = rec["start"]
                else:
                    outcomes[rec["case"]] = rec
                    started = None
        sel.close()
        p.stdout.close()
        status = p.wait()
        if started is None:
            break
        outcomes[started] = {"case": started, "hung": True} if hung else \
            {"case": started, "crashed": status}
        remaining = remaining[remaining.index(started) + 1:]
    return outcomes


@pytest.fixture(scope="session")
def outcomes(tmp_path_factory):
    global skip_reason
    paths, reason = upstream_paths()
    if paths is None:
        skip_reason = reason
        pytest.skip(reason)
    stub, upstream = paths
    ours = os.environ.get("LKFFI_LIB", os.path.join(ROOT, "build", "liblivekit_ffi.so"))
    names = sorted(cases.CASES)
    logs = tmp_path_factory.mktemp("conformance")
    found = {}

    def run(side, lib, preload):
        with open(logs / (side + ".log"), "wb") as log:
            found[side] = run_cases(lib, preload, names, log)

    threads = [threading.Thread(target=run, args=("ours", ours, [])),
               threading.Thread(target=run, args=("upstream", upstream, [stub]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return found


def pytest_sessionfinish(session, exitstatus):
    if skip_reason and exitstatus == 0:
        print("\nconformance skipped: " + skip_reason)
        session.exitstatus = SKIPPED

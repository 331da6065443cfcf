"""Runs conformance cases against one library, in a process of its own.

    runner.py LIB [PRELOAD...] < case names, one per line

For each case it prints `{"start": name}`, then `{"case": name, "result": …}`
or `{"case": name, "exception": text}`, one JSON object per line, flushed.
The upstream library is built with panic=abort, so a case it cannot handle
ends this process: the parent sees which case started and never finished,
records it, and starts a new runner on the cases after it (see conftest.py).
"""

import json
import sys
import traceback

import cases
import lkffi


def main():
    lib = lkffi.Library(path=sys.argv[1], preload=sys.argv[2:])
    for name in (line.strip() for line in sys.stdin):
        if not name:
            continue
        print(json.dumps({"start": name}), flush=True)
        try:
            out = {"case": name, "result": cases.CASES[name](lib)}
        except Exception as e:  # a case that cannot run is a finding, not a crash
            out = {"case": name, "exception": "%s: %s" % (type(e).__name__, e),
                   "trace": traceback.format_exc(limit=3)}
        print(json.dumps(out), flush=True)
    lib.dispose()


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# ctest's `interop` entry (and scripts/interop.sh): installs the room and
# browser test beds if needed, then runs the interop matrix on the library
# LIB, writing interop.md, interop.json and interop.png to OUT_DIR.
# Exit 77 (skipped), with the reason, only if a test bed cannot be
# installed or the browser cannot start here.
#   run.sh LIB OUT_DIR
set -uo pipefail
lib=$1 out=$2
here=$(cd "$(dirname "$0")" && pwd)
if ! testbed=$("$here/../../scripts/testbed.sh"); then
  echo "interop skipped: the room test bed (livekit-server, livekit SDK) could not be installed"
  exit 77
fi
if ! browser=$("$here/../../scripts/browser.sh"); then
  echo "interop skipped: the browser test bed (chromium, livekit-client) could not be installed"
  exit 77
fi
eval "$testbed"
eval "$browser"
if ! "$LK_INTEROP_CHROMIUM" --headless=new --no-sandbox --disable-gpu --dump-dom about:blank \
    >/dev/null 2>&1; then
  echo "interop skipped: $LK_INTEROP_CHROMIUM does not start here"
  exit 77
fi
export LK_TESTBED_SERVER LK_INTEROP_CHROMIUM LK_INTEROP_CLIENT LIVEKIT_FFI_OURS=$lib
exec "$LK_TESTBED_PYTHON" "$here/matrix.py" "$out"

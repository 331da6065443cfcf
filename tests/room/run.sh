#!/usr/bin/env bash
# ctest's `room` entry: installs the test bed if needed, then runs the room
# suites with the SDK venv's Python. Exit 77 (skipped) only if the test bed
# cannot be installed here.
set -uo pipefail
lib=$1 build=$2
here=$(cd "$(dirname "$0")" && pwd)
if ! env_lines=$("$here/../../scripts/testbed.sh"); then
  echo "room tests skipped: the test bed (livekit-server, livekit SDK) could not be installed"
  exit 77
fi
eval "$env_lines"
export LK_TESTBED_SERVER LIVEKIT_FFI_OURS=$lib LK_BUILD_DIR=$build
exec "$LK_TESTBED_PYTHON" -m pytest -q -p no:cacheprovider --capture=sys "$here"

#!/usr/bin/env bash
# The room test bed: a real livekit-server and the upstream Python SDK (whose
# wheel bundles upstream's Rust liblivekit_ffi, the peer and the reference).
# Both go to a cache outside the repository and are built or installed once;
# later runs only check they are there. Prints, for eval:
#   LK_TESTBED_SERVER=<livekit-server binary>  LK_TESTBED_PYTHON=<venv python>
# Needs Go (preinstalled on these machines) and the Go module proxy, PyPI.
set -euo pipefail

LK_SERVER_VERSION=v1.13.5
LK_SDK_VERSION=1.2.1     # PyPI livekit (bundles liblivekit_ffi)
LK_API_VERSION=1.1.0     # PyPI livekit-api (tokens)

cache=${XDG_CACHE_HOME:-$HOME/.cache}/livekit-ffi/testbed
server_dir=$cache/livekit-server-$LK_SERVER_VERSION
venv=$cache/venv-livekit-$LK_SDK_VERSION
mkdir -p "$cache"

if [ ! -x "$server_dir/server" ]; then
  command -v go >/dev/null || export PATH=$PATH:/usr/local/go/bin
  if ! command -v go >/dev/null; then
    echo "testbed: 'go' is not installed: it builds livekit-server $LK_SERVER_VERSION" >&2
    exit 1
  fi
  echo "testbed: building livekit-server $LK_SERVER_VERSION (once; minutes)" >&2
  GOBIN=$server_dir.tmp GOPATH=$cache/gopath GOCACHE=$cache/gocache GOFLAGS=-modcacherw \
    go install "github.com/livekit/livekit-server/cmd/server@$LK_SERVER_VERSION" >&2
  mv "$server_dir.tmp" "$server_dir"
fi

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import livekit.rtc, livekit.api, pytest' 2>/dev/null; then
  echo "testbed: creating the SDK venv (livekit $LK_SDK_VERSION)" >&2
  if ! /usr/bin/python3 -m venv --help >/dev/null 2>&1 || ! /usr/bin/python3 -c 'import ensurepip' 2>/dev/null; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-venv >&2
  fi
  rm -rf "$venv"
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install -q "livekit==$LK_SDK_VERSION" "livekit-api==$LK_API_VERSION" pytest >&2
fi

echo "LK_TESTBED_SERVER=$server_dir/server"
echo "LK_TESTBED_PYTHON=$venv/bin/python"

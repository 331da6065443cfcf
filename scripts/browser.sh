#!/usr/bin/env bash
# The browser test bed: Debian's Chromium and the JavaScript SDK (npm
# livekit-client, its self-contained bundle), installed once; later runs
# only check they are there. Prints, for eval:
#   LK_INTEROP_CHROMIUM=<browser binary>  LK_INTEROP_CLIENT=<livekit-client.umd.js>
# Needs apt (as root or with sudo) and npm with its registry.
set -euo pipefail

LK_CLIENT_VERSION=2.23.0  # npm livekit-client

cache=${XDG_CACHE_HOME:-$HOME/.cache}/livekit-ffi/browser
client_dir=$cache/livekit-client-$LK_CLIENT_VERSION
mkdir -p "$cache"

if ! command -v chromium >/dev/null; then
  echo "browser: installing chromium (once)" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >&2
fi

if [ ! -f "$client_dir/package/dist/livekit-client.umd.js" ]; then
  command -v npm >/dev/null || { echo "browser: 'npm' is not installed" >&2; exit 1; }
  echo "browser: fetching livekit-client $LK_CLIENT_VERSION (once)" >&2
  tmp=$(mktemp -d "$cache/fetch.XXXXXX")
  (cd "$tmp" && npm pack -q "livekit-client@$LK_CLIENT_VERSION" >/dev/null &&
     tar xzf "livekit-client-$LK_CLIENT_VERSION.tgz")
  rm -rf "$client_dir"
  mkdir -p "$client_dir"
  mv "$tmp/package" "$client_dir/"
  rm -rf "$tmp"
fi

echo "LK_INTEROP_CHROMIUM=$(command -v chromium)"
echo "LK_INTEROP_CLIENT=$client_dir/package/dist/livekit-client.umd.js"

#!/usr/bin/env bash
# Installs the Debian packages this project needs, if any are missing.
# Sourced by demo.sh and test.sh; run as root (or with sudo available).
set -euo pipefail

LK_PACKAGES=(
  build-essential cmake pkg-config clang libclang-rt-14-dev valgrind
  libprotobuf-c-dev protobuf-c-compiler protobuf-compiler
  liburing-dev libseccomp-dev libcmocka-dev libsoxr-dev libyuv-dev libspeexdsp-dev libssl-dev libsrtp2-dev
  libopus-dev libvpx-dev libavcodec-dev libavutil-dev
  python3 python3-protobuf python3-pytest python3-numpy python3-matplotlib
)

lk_install_deps() {
  local missing=()
  for p in "${LK_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing: ${missing[*]}" >&2
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

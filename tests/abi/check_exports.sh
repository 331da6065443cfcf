#!/bin/sh
# The shared library exports exactly the six livekit_ffi_* functions.
set -eu
got=$(nm -D --defined-only "$1" | awk '{print $3}' | sort | tr '\n' ' ')
want="livekit_ffi_dispose livekit_ffi_drop_handle livekit_ffi_initialize livekit_ffi_last_error livekit_ffi_reinit livekit_ffi_request "
[ "$got" = "$want" ] || { echo "exports: $got"; echo "wanted:  $want"; exit 1; }
readelf -d "$1" | grep -q 'SONAME.*liblivekit_ffi.so.0' || { echo "no SONAME"; exit 1; }

"""A tour of liblivekit_ffi through ctypes, as the livekit-rtc SDK drives it."""

import os
import time

import lkffi
from lkffi import proto, room


def main():
    lib = lkffi.Library()
    print("loaded %s (extensions: reinit, last_error)" % lib.path)

    t0 = time.monotonic()
    res = lib.request(connect=room.ConnectRequest())
    cb = lib.wait_callback("connect", res.async_id)
    print("connect: async_id=%d, callback after %.2f ms: %s"
          % (res.async_id, (time.monotonic() - t0) * 1e3, cb.error))

    try:
        lib.request(set_subscribed=room.SetSubscribedRequest(publication_handle=1))
    except lkffi.FfiError as e:
        print("set_subscribed refused: %s" % e)

    pid = os.fork()
    if pid == 0:
        # lkffi calls livekit_ffi_reinit() in the child (os.register_at_fork).
        res = lib.request(dispose=proto.DisposeRequest(**{"async": True}))
        lib.wait_callback("dispose", res.async_id)
        print("fork child %d: async request answered after reinit" % os.getpid())
        os._exit(0)
    os.waitpid(pid, 0)

    lib.dispose()
    print("disposed")


if __name__ == "__main__":
    main()

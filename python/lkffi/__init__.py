"""lkffi: a small ctypes client for liblivekit_ffi.

It loads the library the way the upstream Python SDK (livekit-rtc) does:
ctypes.CDLL, the same argtypes and restypes, the event callback through
ctypes.CFUNCTYPE. It works with this project's library and with upstream's.

With this project's library it also makes fork() work: a child created by
os.fork() (or multiprocessing's fork start method) calls livekit_ffi_reinit()
before anything else, so the library keeps working in the child.

The protocol classes are generated from proto/ at build time into
<build>/python; LKFFI_PROTO_DIR points elsewhere.
"""

import ctypes
import os
import sys
import threading
import time
from collections import deque

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(os.path.dirname(_HERE))
_PROTO_DIR = os.environ.get("LKFFI_PROTO_DIR", os.path.join(_ROOT, "build", "python"))
if _PROTO_DIR not in sys.path:
    sys.path.insert(0, _PROTO_DIR)

import ffi_pb2 as proto  # noqa: E402  (generated)
import audio_frame_pb2 as audio  # noqa: E402,F401
import video_frame_pb2 as video  # noqa: E402,F401
import track_pb2 as track  # noqa: E402,F401
import handle_pb2 as handle  # noqa: E402,F401
import room_pb2 as room  # noqa: E402,F401

INVALID_HANDLE = 0
DEFAULT_LIB = os.environ.get("LKFFI_LIB", os.path.join(_ROOT, "build", "liblivekit_ffi.so"))

CALLBACK = ctypes.CFUNCTYPE(None, ctypes.POINTER(ctypes.c_uint8), ctypes.c_size_t)


class FfiError(RuntimeError):
    """A request the library refused (INVALID_HANDLE)."""


class Library:
    """One loaded liblivekit_ffi, initialized, with its events collected.

    preload: shared objects to load RTLD_GLOBAL first (the napi stub that
    upstream's Node build needs outside Node).
    """

    def __init__(self, path=None, capture_logs=False, preload=(), fork_support=True):
        for p in preload:
            ctypes.CDLL(p, mode=ctypes.RTLD_GLOBAL)
        self.path = path or DEFAULT_LIB
        self.lib = ctypes.CDLL(self.path)
        lib = self.lib
        lib.livekit_ffi_initialize.argtypes = [CALLBACK, ctypes.c_bool, ctypes.c_char_p,
                                               ctypes.c_char_p]
        lib.livekit_ffi_initialize.restype = None
        lib.livekit_ffi_request.argtypes = [
            ctypes.POINTER(ctypes.c_ubyte), ctypes.c_size_t,
            ctypes.POINTER(ctypes.POINTER(ctypes.c_ubyte)), ctypes.POINTER(ctypes.c_size_t)]
        lib.livekit_ffi_request.restype = ctypes.c_uint64
        lib.livekit_ffi_drop_handle.argtypes = [ctypes.c_uint64]
        lib.livekit_ffi_drop_handle.restype = ctypes.c_bool
        lib.livekit_ffi_dispose.argtypes = []
        lib.livekit_ffi_dispose.restype = None
        # Extensions of this project's library; absent from upstream's.
        self.has_extensions = hasattr(lib, "livekit_ffi_reinit")
        if self.has_extensions:
            lib.livekit_ffi_reinit.argtypes = []
            lib.livekit_ffi_reinit.restype = ctypes.c_bool
            lib.livekit_ffi_last_error.argtypes = []
            lib.livekit_ffi_last_error.restype = ctypes.c_char_p

        self._cond = threading.Condition()
        self._events = deque()
        self.logs = []
        self._callbacks = []  # every callback installed stays alive: events in flight may use it
        self.capture_logs = capture_logs
        self.set_callback(self._on_event)
        self.fork_support = fork_support  # may be switched off later
        if self.has_extensions:
            os.register_at_fork(after_in_child=self._after_fork_in_child)

    def set_callback(self, fn):
        """(Re)initializes the library with fn(data_ptr, length) as its callback."""
        cb = CALLBACK(fn)
        self._callbacks.append(cb)
        self.lib.livekit_ffi_initialize(cb, self.capture_logs, b"lkffi", b"0.1")

    # --- events ---------------------------------------------------------
    def _on_event(self, data, length):
        ev = proto.FfiEvent()
        ev.ParseFromString(ctypes.string_at(data, length))
        with self._cond:
            if ev.WhichOneof("message") == "logs":
                self.logs.extend(ev.logs.records)
            else:
                self._events.append((time.monotonic(), ev))
            self._cond.notify_all()

    def wait_event(self, match, timeout=5.0):
        """Removes and returns the first event for which match(ev) is true."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i, (_, ev) in enumerate(self._events):
                    if match(ev):
                        del self._events[i]
                        return ev
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no matching event within %.1fs" % timeout)
                self._cond.wait(left)

    def wait_event_timed(self, match, timeout=5.0):
        """Like wait_event, with the monotonic time the event arrived."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i, (t, ev) in enumerate(self._events):
                    if match(ev):
                        del self._events[i]
                        return t, ev
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no matching event within %.1fs" % timeout)
                self._cond.wait(left)

    def wait_callback(self, kind, async_id, timeout=5.0):
        """The FfiEvent variant `kind` whose async_id is async_id."""
        return getattr(self.wait_event(
            lambda ev: ev.WhichOneof("message") == kind
            and getattr(ev, kind).async_id == async_id, timeout), kind)

    def drain_events(self):
        with self._cond:
            evs = [ev for _, ev in self._events]
            self._events.clear()
            return evs

    # --- requests -------------------------------------------------------
    def request_raw(self, data):
        """Sends bytes; returns (handle, response bytes) without dropping."""
        buf = (ctypes.c_ubyte * len(data)).from_buffer_copy(data) if data else None
        res_ptr = ctypes.POINTER(ctypes.c_ubyte)()
        res_len = ctypes.c_size_t()
        h = self.lib.livekit_ffi_request(buf, len(data), ctypes.byref(res_ptr),
                                         ctypes.byref(res_len))
        body = ctypes.string_at(res_ptr, res_len.value) if h != INVALID_HANDLE else None
        return h, body

    def request(self, **variant):
        """request(new_audio_resampler=NewAudioResamplerRequest()) → the
        response variant's message. Raises FfiError when refused."""
        (name, msg), = variant.items()
        req = proto.FfiRequest()
        getattr(req, name).CopyFrom(msg)
        h, body = self.request_raw(req.SerializeToString())
        if h == INVALID_HANDLE:
            raise FfiError(self.last_error() or "request refused")
        res = proto.FfiResponse()
        res.ParseFromString(body)
        assert self.drop(h)
        which = res.WhichOneof("message")
        return getattr(res, which) if which else res

    def drop(self, handle_id):
        return bool(self.lib.livekit_ffi_drop_handle(handle_id))

    def last_error(self):
        if not self.has_extensions:
            return None
        e = self.lib.livekit_ffi_last_error()
        return e.decode() if e is not None else None

    def reinit(self):
        return bool(self.lib.livekit_ffi_reinit())

    def dispose(self):
        self.lib.livekit_ffi_dispose()

    def _after_fork_in_child(self):
        # Another parent thread may have held the old lock at fork time:
        # start over with fresh ones rather than touch it.
        self._cond = threading.Condition()
        self._events = deque()
        if self.fork_support:
            self.reinit()


# --- reading what the library hands out ----------------------------------

def video_layout(t, w, h):
    """(stride, size) per plane of an owned buffer of type t, w×h: planes
    tightly packed, chroma rounded up (docs/protocol.md)."""
    cw, ch = (w + 1) // 2, (h + 1) // 2
    return {
        video.RGBA: [(4 * w, 4 * w * h)], video.ABGR: [(4 * w, 4 * w * h)],
        video.ARGB: [(4 * w, 4 * w * h)], video.BGRA: [(4 * w, 4 * w * h)],
        video.RGB24: [(3 * w, 3 * w * h)],
        video.I420: [(w, w * h), (cw, cw * ch), (cw, cw * ch)],
        video.I420A: [(w, w * h), (cw, cw * ch), (cw, cw * ch), (w, w * h)],
        video.I422: [(w, w * h), (cw, cw * h), (cw, cw * h)],
        video.I444: [(w, w * h)] * 3,
        video.I010: [(2 * w, 2 * w * h), (2 * cw, 2 * cw * ch), (2 * cw, 2 * cw * ch)],
        video.NV12: [(w, w * h), (2 * cw, 2 * cw * ch)],
    }[t]


def video_planes(info):
    """Copies of the planes a VideoBufferInfo describes, as bytes."""
    if info.components:
        return [ctypes.string_at(c.data_ptr, c.size) for c in info.components]
    return [ctypes.string_at(info.data_ptr, info.stride * info.height)]


def pcm(info):
    """A copy of the int16 samples an AudioFrameBufferInfo describes."""
    return ctypes.string_at(info.data_ptr, 2 * info.samples_per_channel * info.num_channels)

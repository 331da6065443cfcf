"""A 640x480 camera published with upstream's default options, which
simulcast it in two layers (640x480 and 480x360), through the upstream
Python SDK unchanged; a watcher asks for the LOW layer, then for HIGH
again (set_video_quality), and the picture size it receives follows.
Publisher and watcher each on upstream's library or this one (upstream on
both ends is the reference). The publication the watcher sees says the
track is simulcast, at the camera's size, VP8."""
import os

import pytest

from testbed import OURS, UPSTREAM, finish, spawn, wait_ready

PEER = os.path.join(os.path.dirname(__file__), "video_peer.py")
PAIRS = [(UPSTREAM, UPSTREAM), (OURS, UPSTREAM), (UPSTREAM, OURS), (OURS, OURS)]


@pytest.fixture(scope="module", params=PAIRS, ids=lambda p: f"{p[0]}-to-{p[1]}")
def switched(request, server):
    publisher_lib, watcher_lib = request.param
    if OURS in request.param and not os.environ.get("LIVEKIT_FFI_OURS"):
        pytest.skip("LIVEKIT_FFI_OURS is not set (run through ctest)")
    room = f"simulcast-{publisher_lib}-{watcher_lib}"
    watcher = spawn(PEER, watcher_lib, "quality-watcher", server.url,
                    server.token("watcher", room=room))
    wait_ready(watcher)
    publisher = spawn(PEER, publisher_lib, "simulcast-publisher", server.url,
                      server.token("camera", room=room))
    wait_ready(publisher)
    seen = finish(watcher, timeout=90)
    sent = finish(publisher, timeout=30)
    print(request.node.name, sent, seen)  # the measurements, shown with -s
    for out in (sent, seen):
        assert out["error"] is None, (out, server.tail())
    return seen


def test_the_publication_is_simulcast_vp8(switched):
    assert switched["publication"] == {"simulcasted": True, "width": 640, "height": 480,
                                       "mime_type": "video/VP8"}, switched


def test_low_quality_brings_the_low_layer(switched):
    assert switched["low"]["size"] == [480, 360], switched


def test_high_quality_brings_the_full_size_back(switched):
    assert switched["high"]["size"] == [640, 480], switched

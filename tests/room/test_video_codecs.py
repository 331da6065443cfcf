"""A camera published in H.264 through the upstream Python SDK unchanged
(an app's choice, and what some browsers and ingress send): a watcher on
this library is subscribed to it, as video/H264, and nothing fails, as
upstream's watcher is (test_video.py checks the pictures). Before this
library decoded H.264 its watcher got TrackSubscriptionFailed here.
Upstream's own watcher is left out of the suite: it tests nothing of
ours, and CI's four room passes pay for every case."""
import os

import pytest

from testbed import OURS, UPSTREAM, finish, spawn, wait_ready

PEER = os.path.join(os.path.dirname(__file__), "video_peer.py")


def test_an_h264_camera_is_subscribed(server):
    if not os.environ.get("LIVEKIT_FFI_OURS"):
        pytest.skip("LIVEKIT_FFI_OURS is not set (run through ctest)")
    watcher_lib = OURS
    room = f"h264-{watcher_lib}"
    watcher = spawn(PEER, watcher_lib, "codec-watcher", server.url,
                    server.token("watcher", room=room))
    wait_ready(watcher)
    publisher = spawn(PEER, UPSTREAM, "h264-publisher", server.url,
                      server.token("camera", room=room))
    wait_ready(publisher)
    seen = finish(watcher, timeout=60)
    sent = finish(publisher, timeout=30)
    print(watcher_lib, sent, seen)  # shown with -s
    for out in (sent, seen):
        assert out["error"] is None, (out, server.tail())
    events = seen["events"]
    assert [e[0] for e in events] == ["subscribed"], events
    assert events[0][2] == "video/H264", events

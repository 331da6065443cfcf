"""A camera published in H.264 through the upstream Python SDK unchanged
(an app's choice, and what some browsers and ingress send). Upstream's
library decodes it: its watcher gets the track. This library decodes VP8
only: its watcher hears why, once, as TrackSubscriptionFailed naming the
track, its publisher and the codec, and never gets a track that would not
play (upstream has no such event for this: it offers every codec it
decodes). docs/rooms.md records the difference."""
import os

import pytest

from testbed import OURS, UPSTREAM, finish, spawn, wait_ready

PEER = os.path.join(os.path.dirname(__file__), "video_peer.py")


def watch_h264(server, watcher_lib):
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
    return seen["events"]


def test_upstream_subscribes_to_h264(server):
    events = watch_h264(server, UPSTREAM)
    assert [e[0] for e in events] == ["subscribed"], events
    assert events[0][2] == "video/H264", events


def test_ours_says_h264_is_not_decoded(server):
    if not os.environ.get("LIVEKIT_FFI_OURS"):
        pytest.skip("LIVEKIT_FFI_OURS is not set (run through ctest)")
    events = watch_h264(server, OURS)
    assert len(events) == 1 and events[0][0] == "failed", events
    _, sid, identity, error = events[0]
    assert sid.startswith("TR_V") and identity == "camera", events
    assert "unsupported codec video/H264" in error, events

"""A 640x480 camera at 30 fps published through the upstream Python SDK
unchanged, in one room of a real livekit-server, watched by a participant
reading a VideoStream; publisher and watcher each on upstream's library or
this one (upstream on both ends is the reference). Every picture carries
its frame number: the watcher sees them in order, at the camera's size,
nearly all of them (a frame the SFU or a late decoder drops may be
missing), each the picture it was made from (PSNR against the frame with
that number; neighbouring frames differ by about 25 dB, so 30 dB means
the right one). The watcher opens its stream on the subscribed track, or
(VideoStreamFromParticipant) on the publisher as soon as it joins, before
any track exists; it joins before the camera, or after it (the server then
asks the camera for a keyframe for it). An upstream camera in H.264 (what
some browsers send) is watched the same way by ours (upstream's watcher
of it is test_video_codecs.py's reference)."""
import os

import pytest

from testbed import OURS, UPSTREAM, finish, spawn, wait_ready

PEER = os.path.join(os.path.dirname(__file__), "video_peer.py")

# (publisher, watcher, how the watcher opens its stream, who joins first,
# the camera's role in video_peer.py)
PAIRS = [(UPSTREAM, UPSTREAM, "watcher", "watcher", "publisher"),
         (OURS, UPSTREAM, "watcher", "watcher", "publisher"),
         (UPSTREAM, OURS, "watcher", "watcher", "publisher"),
         (OURS, OURS, "watcher", "watcher", "publisher"),
         (OURS, UPSTREAM, "watcher", "publisher", "publisher"),
         (UPSTREAM, OURS, "watcher", "publisher", "publisher"),
         (UPSTREAM, OURS, "participant-watcher", "watcher", "publisher"),
         (UPSTREAM, OURS, "watcher", "watcher", "h264-publisher"),
         (UPSTREAM, OURS, "watcher", "publisher", "h264-publisher")]


def pair_id(p):
    return (f"{p[0]}-to-{p[1]}" + ("-h264" if p[4] == "h264-publisher" else "")
            + ("-by-participant" if p[2] != "watcher" else "")
            + ("-camera-first" if p[3] == "publisher" else ""))


@pytest.fixture(scope="module", params=PAIRS, ids=pair_id)
def watched(request, server):
    publisher_lib, watcher_lib, role, first, camera = request.param
    if OURS in request.param and not os.environ.get("LIVEKIT_FFI_OURS"):
        pytest.skip("LIVEKIT_FFI_OURS is not set (run through ctest)")
    room = "video-" + pair_id(request.param)

    def start_watcher():
        p = spawn(PEER, watcher_lib, role, server.url, server.token("watcher", room=room))
        wait_ready(p)
        return p

    def start_publisher():
        p = spawn(PEER, publisher_lib, camera, server.url, server.token("camera", room=room))
        wait_ready(p)
        return p

    if first == "watcher":
        watcher, publisher = start_watcher(), start_publisher()
    else:
        publisher, watcher = start_publisher(), start_watcher()
    seen = finish(watcher, timeout=90)
    sent = finish(publisher, timeout=30)
    print(request.node.name, sent, seen)  # the measurements, shown with -s
    for out in (sent, seen):
        assert out["error"] is None, (out, server.tail())
    return sent, seen


def test_pictures_arrive_at_the_cameras_size(watched):
    _, seen = watched
    assert seen["frames"] > 0, seen
    assert seen["sizes"] == [[640, 480]], seen


def test_pictures_arrive_in_order(watched):
    _, seen = watched
    assert seen["in_order"] and seen["ts_in_order"], seen


def test_nearly_every_picture_arrives(watched):
    _, seen = watched
    assert seen["share"] >= 0.9, seen


def test_pictures_are_the_ones_sent(watched):
    _, seen = watched
    assert seen["psnr_min"] >= 30, seen

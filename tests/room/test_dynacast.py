"""Dynacast: a camera published with upstream's default options (two
layers for 640x480: 640x480 at up to 450 kbps, 480x360 at up to 225) by a
participant that joined with RoomOptions(dynacast=True), watched by one
subscriber who first takes the full size, then asks for LOW. livekit-server
then tells the publisher (SubscribedQualityUpdate, 5 s after the change)
that nobody wants the upper layer, and the publisher stops coding and
sending it: what leaves the publisher falls by at least half. The
publisher sits behind a link that neither loses nor delays
(lossy_link.py), which counts the bytes it sends. Publisher on upstream's
library (the reference) or this one; the watcher on upstream's."""
import os
import time

import pytest

from lossy_link import LinkUnavailable, LossyLink
from testbed import OURS, UPSTREAM, LiveKitServer, finish, spawn, wait_ready

PEER = os.path.join(os.path.dirname(__file__), "video_peer.py")


@pytest.fixture(scope="module")
def link():
    why = LossyLink.unavailable()
    if why:
        pytest.skip(why)
    try:
        with LossyLink(loss=0, delay_ms=0, jitter_ms=0) as l:
            yield l
    except LinkUnavailable as e:
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def linked_server(link):
    # at debug level the server logs each layer switch and why one waits
    with LiveKitServer(advertise=link.root_ip, log_level="debug") as s:
        yield s


def switches(server):
    """What the server logged about the watcher's layers: the story of a
    switch that did not happen."""
    words = ("switching feed", "ref layer", "sending PLI", "max subscribed quality",
             "available layers", "stream tracker")
    with open(server.log_path) as f:
        return [line[:400] for line in f if any(w in line for w in words)][-40:]


def sent_kbps(link, watcher, first, last):
    """The publisher's UDP bit rate between the watcher's two marks."""
    marks = {}
    for _ in range(100):  # the watcher prints a handful of lines
        line = watcher.stdout.readline()
        assert line, "the watcher ended early"
        if line.strip() in (first, last):
            marks[line.strip()] = (link.counters()["from_ns"]["udp_bytes"], time.monotonic())
        if len(marks) == 2:
            break
    (b0, t0), (b1, t1) = marks[first], marks[last]
    return (b1 - b0) * 8 / 1000 / (t1 - t0)


@pytest.mark.parametrize("publisher_lib", [UPSTREAM, OURS])
def test_unwanted_layers_stop(publisher_lib, link, linked_server):
    if publisher_lib == OURS and not os.environ.get("LIVEKIT_FFI_OURS"):
        pytest.skip("LIVEKIT_FFI_OURS is not set (run through ctest)")
    server = linked_server
    room = f"dynacast-{publisher_lib}"
    watcher = spawn(PEER, UPSTREAM, "dynacast-watcher", server.url,
                    server.token("watcher", room=room))
    wait_ready(watcher)
    os.environ["LK_DYNACAST"] = "1"
    try:
        publisher = spawn(PEER, publisher_lib, "simulcast-publisher",
                          server.url_for(link.root_ip), server.token("camera", room=room),
                          netns=link.netns)
    finally:
        del os.environ["LK_DYNACAST"]
    try:
        wait_ready(publisher)
        both = sent_kbps(link, watcher, "A0", "A1")
        low_only = sent_kbps(link, watcher, "B0", "B1")
        seen = finish(watcher, timeout=60)
        sent = finish(publisher, timeout=30)
    finally:
        for p in (watcher, publisher):
            p.kill()
            p.wait(timeout=10)
    print(publisher_lib, f"{both:.0f} kbps with both layers, {low_only:.0f} kbps after LOW",
          seen)
    for out in (sent, seen):
        assert out["error"] is None, (out, server.tail())
    assert both > 100, both  # media went through the link
    assert low_only < 0.5 * both, (both, low_only, switches(server))

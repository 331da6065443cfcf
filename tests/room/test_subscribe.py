"""Subscribing by hand, and active speakers, through the upstream Python SDK
unchanged; the listener and the speaker each on upstream's library or this
one (upstream on both ends is the reference).

The listener joins with auto_subscribe off: it sees the speaker's
microphone published and nothing more, until set_subscribed(True) brings
TrackSubscribed and the tone; set_subscribed(False) brings
TrackUnsubscribed and the audio stops (frames on their way are read, then
none: upstream's stream stays open and silent, ours ends); nothing comes
back by itself, and set_subscribed(True) again brings the track and the tone
again. The speaker talks (a loud tone) and pauses, again and again: both
are told it is the active speaker (the listener while it is subscribed,
the server telling each participant only of those it receives, and
itself), and never of the silent listener. Each is told its own
connection quality (the server checks every 5 s and tells a newcomer at
the next check), good or excellent on loopback."""
import os

import pytest

from testbed import OURS, UPSTREAM, finish, spawn, wait_ready

PEER = os.path.join(os.path.dirname(__file__), "subscribe_peer.py")
GOOD, EXCELLENT = 1, 2  # rtc.ConnectionQuality

# (speaker, listener)
PAIRS = [(UPSTREAM, UPSTREAM), (OURS, UPSTREAM), (UPSTREAM, OURS), (OURS, OURS)]


@pytest.fixture(scope="module", params=PAIRS, ids=lambda p: f"{p[0]}-to-{p[1]}")
def session(request, server):
    speaker_lib, listener_lib = request.param
    if OURS in request.param and not os.environ.get("LIVEKIT_FFI_OURS"):
        pytest.skip("LIVEKIT_FFI_OURS is not set (run through ctest)")
    room = f"subscribe-{speaker_lib}-{listener_lib}"
    listener = spawn(PEER, listener_lib, "listener", server.url,
                     server.token("listener", room=room))
    wait_ready(listener)
    speaker = spawn(PEER, speaker_lib, "speaker", server.url, server.token("speaker", room=room))
    wait_ready(speaker)
    heard = finish(listener, timeout=90)
    said = finish(speaker, timeout=30)  # told "done" by the listener in any case
    for out in (said, heard):
        assert out["error"] is None, (out, server.tail())
    return said, heard


def kinds(events):
    return [e[0] for e in events if e[0] not in ("speakers", "quality")]


def test_nothing_arrives_until_subscribed(session):
    said, heard = session
    assert kinds(heard["events"])[:2] == ["track_published", "set_subscribed"], heard["events"]
    assert heard["events"][0][1:3] == ["speaker", said["sid"]]


def test_subscribing_brings_the_track_and_the_tone(session):
    said, heard = session
    order = kinds(heard["events"])[:8]  # then the speaker's departure
    assert order == ["track_published", "set_subscribed", "track_subscribed", "set_subscribed",
                     "track_unsubscribed", "quiet_end", "set_subscribed", "track_subscribed"], \
        heard["events"]
    for e in heard["events"]:
        if e[0] in ("track_subscribed", "track_unsubscribed"):
            assert e[1:3] == ["speaker", said["sid"]], e
    for phase in ("first", "again"):
        p = heard["phases"][phase]
        assert p["frames"] > 0 and p["loud"] > 0, heard["phases"]


def test_unsubscribing_stops_the_audio(session):
    _, heard = session
    p = heard["phases"]["unsubscribed"]
    assert p["frames_later"] == 0, heard["phases"]


def test_the_speaker_is_the_active_speaker(session):
    said, heard = session
    for out in (said, heard):
        lists = [e[1] for e in out["events"] if e[0] == "speakers"]
        assert ["speaker"] in lists, out["events"]
        assert not any("listener" in l for l in lists), out["events"]


def test_each_is_told_its_connection_quality(session):
    for out, me in zip(session, ("speaker", "listener")):
        mine = [e[2] for e in out["events"] if e[0] == "quality" and e[1] == me]
        assert mine, out["events"]
        assert set(mine) <= {GOOD, EXCELLENT}, out["events"]

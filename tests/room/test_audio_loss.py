"""Audio over a bad network (issue 14): a microphone published through the
upstream Python SDK unchanged, heard by a listener reading an AudioStream,
with one of the two behind a lossy, jittery link (lossy_link.py: 10% of
packets lost at random and each delayed 30 ms +- 10 ms, so reordered, in
both directions). livekit-server stays in the root namespace and binds the
link's address too; the participant behind the link runs in the link's
network namespace and reaches the server only through it, so the media
crosses the link exactly once (the relay's counters prove it did).

The link loses packets once both participants have joined, and only
delays them before: joining under loss is not what this measures, and
upstream's SDK once gave up a signal attempt there ("transport timed
out"), retried, and its session then heard nothing. The signal messages
that start forwarding (the subscription, the unmute) do cross the lossy
link, over TCP, whose retransmissions can hold them 200 ms and more: the
tone's start and its return after the mute may come late, so the tone
is asserted heard for most of its length, not all of it.

Each of publisher and listener is on upstream's library or this one, in
the three pairings with this library in them. Upstream on both ends, the
reference, met the same criteria in three quiet runs (docs/rooms.md) but
is not run here: in one CI run its listener never got the publisher's
closing message under the loss and timed out, a failure with no code of
ours in it. What a user hears is asserted: the tone is at 440 Hz, and
while it plays (from the first loud 10 ms to the last, the mute aside) no
silence is longer than 100 ms. The longest wait
between two frames reaching the listener's Python is reported, not
asserted: that is the listener's own scheduling.
"""
import os

import pytest

from audio_peer import MUTE_S, TONE_S
from lossy_link import LinkUnavailable, LossyLink
from testbed import OURS, UPSTREAM, LiveKitServer, finish, spawn, wait_ready

PEER = os.path.join(os.path.dirname(__file__), "audio_peer.py")
LOSS, DELAY_MS, JITTER_MS = 0.10, 30, 10
MAX_GAP_MS = 100      # the criterion
MEDIA_PACKETS = 300   # 10 s of 20 ms packets is 500; fewer means media went elsewhere

# (who is behind the link, publisher's library, listener's library)
CASES = [(side, pub, lis) for side in ("listener", "publisher")
         for pub, lis in ((UPSTREAM, OURS), (OURS, UPSTREAM), (OURS, OURS))]


@pytest.fixture(scope="module")
def link():
    why = LossyLink.unavailable()
    if why:
        pytest.skip(why)
    try:
        with LossyLink(loss=LOSS, delay_ms=DELAY_MS, jitter_ms=JITTER_MS, seed=14) as l:
            yield l
    except LinkUnavailable as e:
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def lossy_server(link):
    # started after the link exists, so that it binds the link's address
    with LiveKitServer(advertise=link.root_ip) as s:
        yield s


@pytest.fixture(scope="module", params=CASES,
                ids=lambda c: f"{c[1]}-to-{c[2]}-{c[0]}-behind-link")
def exchange(request, link, lossy_server):
    side, publisher_lib, listener_lib = request.param
    if OURS in request.param and not os.environ.get("LIVEKIT_FFI_OURS"):
        pytest.skip("LIVEKIT_FFI_OURS is not set (run through ctest)")
    server = lossy_server
    room = f"loss-{publisher_lib}-{listener_lib}-{side}"

    def start(role, lib):
        behind = role == side
        url = server.url_for(link.root_ip) if behind else server.url
        return spawn(PEER, lib, role, url, server.token(role, room=room),
                     netns=link.netns if behind else None)

    # Joining is not what is measured here: the link only delays while
    # both join, and loses from then on (see the module's docstring).
    link.set_loss(0)
    procs = []
    try:
        procs.append(start("listener", listener_lib))
        wait_ready(procs[0])
        procs.append(start("publisher", publisher_lib))
        wait_ready(procs[1])
        link.set_loss(LOSS)
        before = link.counters()
        sent = finish(procs[1], timeout=120)
        heard = finish(procs[0], timeout=60)
    finally:
        for p in procs:
            p.kill()
            p.wait(timeout=10)
    after = link.counters()
    moved = {d: {k: after[d][k] - before[d][k] for k in after[d]} for d in after}
    for out in (sent, heard):
        assert out["error"] is None, (out, server.tail())
    a = heard["audio"]
    # the numbers, for whoever runs this with -s
    print(f"\n{publisher_lib} to {listener_lib}, {side} behind the link: "
          f"{a.get('peak_hz', 0):.1f} Hz, longest gap {a.get('gap_ms_max')} ms "
          f"(gaps {a.get('gaps_ms')}), tone {a.get('tone_ms')} ms, mute {a.get('mute_ms')} ms, "
          f"longest stall {a.get('stall_ms_max', 0):.0f} ms; link {moved}")
    return side, sent, heard, moved


def test_media_crossed_the_link(exchange):
    side, _, _, moved = exchange
    # media flows toward the listener: into the namespace when it is there
    way = moved["to_ns" if side == "listener" else "from_ns"]
    assert way["udp_forwarded"] >= MEDIA_PACKETS and way["dropped"] > 0, moved


def test_tone_is_440_hz(exchange):
    a = exchange[2]["audio"]
    assert abs(a.get("peak_hz", 0) - 440) < 3, a


def test_no_gap_longer_than_100_ms(exchange):
    a = exchange[2]["audio"]
    # the longest quiet run is the mute, and is taken out of the gaps
    assert a["mute_ms"] >= (MUTE_S - 0.5) * 1000, a
    assert a["gap_ms_max"] <= MAX_GAP_MS, a
    # not vacuous: most of the tone was heard (its start and the unmute
    # may come late: the signal messages that start the forwarding cross
    # the lossy link too, over TCP, whose retransmissions take 200 ms and more)
    assert a.get("tone_ms", 0) >= 0.8 * TONE_S * 1000, a

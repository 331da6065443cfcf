"""A camera on a narrow uplink: a publisher must fit what it sends to the
bandwidth it has. bench/room_bwe.py's scenario (its run() is used here): a
1280x720 30 fps camera with upstream's default simulcast (three layers)
publishes from behind lossy_link.py's relay (no random loss, 20 ms each
way), watched by a participant on upstream's library on the server's
side. The publisher's uplink is left alone for 10 s, limited to 600 kbit/s
(a token bucket and a 150 ms drop-tail queue: what a slow uplink's router
does) for 30 s, then unlimited for 10 s.

What a user notices is asserted, with no bound on how fast the machine
is: after the first 10 s of the limit (time for the sender to find it),
the watcher's picture does not freeze for more than 2 s; over the last
15 s of it the link's queue drops at most 15 % of the packets sent into it
(a sender that has adapted sends about what fits; one that has not keeps
pushing its 2-3 Mbit/s and the queue drops most of it, 96 % here, which
the freeze bound alone could miss if a low layer slipped through); and
once the limit is lifted, pictures come again within 2 s and keep
coming. The limit must bite: before it, the camera sent more than it
allows.

Upstream's library is the reference (libwebrtc's send-side estimate fed
by transport-wide-cc feedback): it offered 600 kbit/s or less 3 and 4 s
into the limit, its queue dropped nothing from 10 and 12 s into it on,
it paused the 1280x720 layer and the watcher moved to 640x360 or
320x180; the picture froze up to 4.5 s in the limit's first seconds, at
most 1.2 s after. This library before it had congestion control offered
15-17 Mbit/s into the 600 kbit/s pipe (its answers to the server's
NACKs on top of its 3-4 Mbit/s), 96 % of it dropped, and the watcher got
2 pictures in 30 s. bench/room_bwe.py measures both side by side.

The other way round (run()'s limited="downlink"): upstream's camera on
the server's side, watched on the library under test from behind the
relay, the watcher's downlink limited. livekit-server, at its defaults,
picks the layer it forwards to a subscriber from the subscriber's REMBs
and NACKs (docs/research/congestion-control.md section 2); ours come from
rtc/rbe, on the abs-send-time the server stamps. The sender here is the
server, not the library, and it probes the link with bursts of padding
every few seconds (each a freeze, for upstream's watcher too), so the
bounds are the watcher's: after the first 10 s of the limit the server
forwards a smaller layer than before it, and pictures keep coming (at
least 2 a second on average); once the limit is lifted, pictures come
again within 2 s. 2026-12-07, a quiet machine: upstream's watcher, two
runs, 8.5 and 13.8 pictures a second in the limit; ours, five runs,
5.8-10.9 (median 9.1); ours without REMB 0.1 (the server kept forwarding
1280x720 and its resends into the 600 kbit/s pipe).

Runs for this library in the first room pass only (not on the epoll
backend, nor where io_uring is denied: the path under test is the same,
and the case takes about a minute); upstream's with LK_TEST_BWE=1.
Needs root and /dev/net/tun, like the loss tests."""
import os
import sys

import pytest

from lossy_link import LinkUnavailable, LossyLink
from testbed import OURS, UPSTREAM, LiveKitServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
import room_bwe  # noqa: E402

LIMIT_KBPS = 600
PHASES = (("unshaped", 10, None), ("limited", 30, LIMIT_KBPS), ("lifted", 10, None))
SETTLE_S = 10          # the sender's time to find the limit
TAIL_S = 15            # the limit's last seconds, where drops are counted
MAX_FREEZE_S = 2.0
# Adapted or not, with a wide margin; not parity with upstream (0-0.1 %),
# which bench/room_bwe.py measures. Ours, 2026-12-07, 21 runs on a quiet
# machine and one local CI run: two modes. Mostly 0-1.8 %; in about one run in
# three a climb overshoots the link (935 kbit/s offered for a second in
# the run read closely), and the cut after it keeps 640x360 off for the
# rest of the limit: 5.7-9.3 %. Left open.
MAX_DROP_SHARE = 0.15
RESUME_S = 2.0         # after the limit is lifted
MIN_DOWNLINK_FPS = 2.0  # a watcher's pictures a second under the limit, once settled


@pytest.fixture(scope="module")
def link():
    if os.environ.get("LK_SKIP_VIDEO_LOSS") or os.environ.get("LIVEKIT_FFI_IO") == "epoll":
        pytest.skip("run in the first room pass only")
    why = LossyLink.unavailable()
    if why:
        pytest.skip(why)
    try:
        with LossyLink(loss=0.0, delay_ms=room_bwe.DELAY_MS, jitter_ms=0, seed=3) as l:
            yield l
    except LinkUnavailable as e:
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def bwe_server(link):
    # started after the link exists, so that it binds the link's address
    with LiveKitServer(advertise=link.root_ip) as s:
        yield s


def run_case(lib, limited, link, server):
    """room_bwe's scenario with the library under test on the limited side
    of the link and upstream's on the other."""
    if lib == UPSTREAM and os.environ.get("LK_TEST_BWE") != "1":
        pytest.skip("upstream's run is the reference: LK_TEST_BWE=1 (or bench/room_bwe.py)")
    if lib == OURS and not os.environ.get("LIVEKIT_FFI_OURS"):
        pytest.skip("LIVEKIT_FFI_OURS is not set (run through ctest)")
    pub, watcher = (lib, UPSTREAM) if limited == "uplink" else (UPSTREAM, lib)
    result = room_bwe.run(link, server, pub, phases=PHASES, watcher_lib=watcher,
                          room=f"bwe-{lib}-{limited}", limited=limited)
    print(f"\n{room_bwe.tables(lib, result)}")  # the numbers, for whoever runs with -s
    assert not result["errors"], (result["errors"], server.tail())
    return result


@pytest.fixture(scope="module", params=[UPSTREAM, OURS], ids=lambda lib: f"{lib}-camera")
def shaped(request, link, bwe_server):
    return run_case(request.param, "uplink", link, bwe_server)


@pytest.fixture(scope="module", params=[UPSTREAM, OURS], ids=lambda lib: f"{lib}-watcher")
def watched(request, link, bwe_server):
    return run_case(request.param, "downlink", link, bwe_server)


def window(phase_name, start_after=0, last=None):
    """[a, b) in seconds from the first picture: phase_name's, less its
    first start_after seconds, or only its last `last` seconds."""
    t = 0
    for name, seconds, _ in PHASES:
        if name == phase_name:
            a, b = t + start_after, t + seconds
            return (b - last, b) if last else (a, b)
        t += seconds
    raise KeyError(phase_name)


def summary(result, a, b):
    bins = result["bins"][a:b]
    return "; ".join(f"t={x['t']} in {x['in_kbps']:.0f} kbit/s drops {x['rate_dropped']} "
                     f"pictures {x['frames']} {x['size']}" for x in bins)


def limit_bites(result):
    """Before the limit more was sent than it allows (else the test would
    pass whatever the sender did), and pictures were seen."""
    a, b = window("unshaped")
    bins = result["bins"][a:b]
    assert sum(x["in_kbps"] for x in bins) / len(bins) > LIMIT_KBPS, summary(result, a, b)
    assert sum(x["frames"] for x in bins) > 0, summary(result, a, b)


def pictures_flow_once_lifted(result):
    a, b = window("lifted")
    gap = room_bwe.longest_freeze(result["arrivals"], a, b, running=False)
    assert gap <= RESUME_S, (gap, summary(result, a, b))


def test_the_limit_bites(shaped):
    limit_bites(shaped)


def test_no_freeze_longer_than_2_s_under_the_limit(shaped):
    a, b = window("limited", start_after=SETTLE_S)
    freeze = room_bwe.longest_freeze(shaped["arrivals"], a, b)
    assert freeze <= MAX_FREEZE_S, (freeze, summary(shaped, a, b))


def test_the_queue_drops_little_once_settled(shaped):
    a, b = window("limited", last=TAIL_S)
    bins = shaped["bins"][a:b]
    sent = sum(x["in_packets"] for x in bins)
    dropped = sum(x["rate_dropped"] for x in bins)
    assert sent > 0, summary(shaped, a, b)
    assert dropped <= MAX_DROP_SHARE * sent, (dropped, sent, summary(shaped, a, b))


def test_pictures_flow_once_the_limit_is_lifted(shaped):
    pictures_flow_once_lifted(shaped)


def test_the_downlink_limit_bites(watched):
    limit_bites(watched)


def pixels(size):
    w, h = size.split("x")
    return int(w) * int(h)


def test_the_server_sends_a_smaller_layer_under_the_limit(watched):
    """The server heard us: the size most seen once the limit has settled
    is smaller than the one most seen before it."""
    before = [x["size"] for x in watched["bins"][slice(*window("unshaped"))] if x["size"] != "-"]
    a, b = window("limited", start_after=SETTLE_S)
    under = [x["size"] for x in watched["bins"][a:b] if x["size"] != "-"]
    assert before and under, summary(watched, a, b)
    top = max(set(before), key=before.count)
    settled = max(set(under), key=under.count)
    assert pixels(settled) < pixels(top), (top, settled, summary(watched, a, b))


def test_pictures_keep_coming_under_the_limit(watched):
    a, b = window("limited", start_after=SETTLE_S)
    frames = sum(x["frames"] for x in watched["bins"][a:b])
    assert frames >= MIN_DOWNLINK_FPS * (b - a), (frames, summary(watched, a, b))


def test_pictures_flow_once_the_downlink_limit_is_lifted(watched):
    pictures_flow_once_lifted(watched)

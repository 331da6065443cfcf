"""Video over a bad network: the 640x480 camera of test_video.py (frame
numbers drawn in, 30 fps, VP8 in one layer) watched while one of the two
sits behind the lossy link of lossy_link.py: 5% of packets lost at random
and each delayed 30 ms +- 10 ms (so reordered), in both directions. The
picture must recover through NACK (a lost packet asked again and resent
from the sender's history) and PLI (a frame the receiver must skip, then
a keyframe asked for): over 20 s, no freeze longer than 1 s.

As in test_audio_loss.py, livekit-server stays in the root namespace and
also binds the link's address; the participant behind the link runs in the
link's namespace and reaches the server only through it, so the media
crosses the link once, and the relay's counters show it did and that some
of it was dropped (the test cannot pass with a clean link). The link only
delays while both join, and loses from then on: joining under loss is not
what is measured (see test_audio_loss.py).

Each of camera and watcher is on upstream's library or this one, in the
three pairings with this library in them, with the watcher behind the
link, then the camera. What a user notices is asserted, over the watch
window (20 s, from a second after the first frame): no wait between two
frames reaching the watcher longer than 1 s; every frame at 640x480; most
frames shown by our watchers (at least MIN_SHARE of the numbers in the
window: 18 of 30 fps); and each sampled frame the picture it was made from (PSNR
at least 30 dB against the frame with its number: a frame decoded on a
lost reference would be corrupt and score far lower).

The share is where the libraries differ most, and it is asserted for
our watchers only. Upstream's video stream keeps one frame waiting for
the reader, so of the frames that decode at once when a resent packet
completes the first of them, Python gets the last only: upstream on both
ends saw 0.72 to 0.89 of the frames (two runs, a quiet machine), upstream
watching ours 0.61 to 0.91, ours watching 0.82 to 0.96 (where no freeze
cut it). With a busy loop taking one of the two cores, upstream's
watcher behind the link got 0.53 and 0.58 of upstream's camera and 0.53
to 0.59 of ours (six runs), while ours got 0.82 to 0.93 of either: what
upstream's watcher shows then measures upstream's reader, not the camera.
The bound sits just below upstream's quiet share, and near what a picture
that stalls until each keyframe shows (0.58 and 0.60, ours before it
stopped waiting on padding lost between frames; the longest gap, over
1 s then, is what fails such a picture).

History: before the subscriber paced its NACKs by the measured round
trip (an assumed 100 ms until then), 7 of 18 runs of a case failed under
load (load average 1.7 to 2.8), each on one freeze: 1.10 to 1.16 s with
ours watching, once 5.9 s, and 3.1 s with upstream watching ours, which
upstream on both ends showed too (3.06 s, camera behind the link). Since,
on a quiet machine, two runs of the six cases passed, the longest gap
0.20 to 0.51 s; CI then saw 1.44 s, ours on both ends with the camera
behind the link: a packet the server fetched from the camera after our
watcher's NACKs had run out came, but the watcher had already given up
on its frame's references and waited for a keyframe, which the server
passes at most once a second. Since that was fixed, with a busy loop
taking one of the two cores, four runs of the six cases passed (and two
more of one), a case's longest gap 0.22 to 0.98 s, median 0.35 s. Whole
suites then froze our watchers for 5 to 10 s now and then: two packets
resent together hundreds of packets late were taken for a sender
restarting its numbers (RFC 3550 A.1's 100-packet limit), which threw the
receiver's state away; late now runs to 1500 packets (rtc/rtp.c).

Upstream's watcher freezes longer when a packet stays lost: libwebrtc
gives a frame up silently when its NACKs run out (the server resends a
packet a few times at most) and asks for a keyframe only after 3 s
without a decodable frame (kMaxWaitForFrame in its receive stream; our
receiver asks at once). CI saw it once, ours watched by upstream, the
camera on the clean side: a 3.26 s gap, 93 frames skipped, nothing of
ours on the path between the server and the watcher; upstream on both
ends did it too (3.06 s, above). So for upstream's watcher the bound is
that wait plus the issue's second: the keyframe it then asks for must
arrive within a second, which is what our camera controls.

The suite's passes under a seccomp filter (scripts/test.sh) set
LK_SKIP_VIDEO_LOSS=1: they run the epoll backend, which the epoll pass
already runs this test on, and the two minutes it takes are better spent
once.

Upstream on both ends, the reference, is run only with
LK_VIDEO_LOSS_REFERENCE=1 and is not asserted there (its failures are
reported as xfail): it is measured, for comparison, and costs time the
suite does not need to spend every run.
"""
import os

import pytest

from lossy_link import LinkUnavailable, LossyLink
from testbed import OURS, UPSTREAM, LiveKitServer, finish, spawn, wait_ready

PEER = os.path.join(os.path.dirname(__file__), "video_peer.py")
LOSS, DELAY_MS, JITTER_MS = 0.05, 30, 10
WATCH_S = 21          # the window starts a second after the first frame: 20 s
MAX_GAP_S = 1.0       # the criterion
UPSTREAM_KEYFRAME_WAIT_S = 3.0  # libwebrtc's wait for a decodable frame (above)
MIN_SHARE = 0.6       # upstream's watchers: 0.61 to 0.91 (see above)
MIN_PSNR_DB = 30      # neighbouring frames differ by about 25 dB (test_video.py)
MEDIA_PACKETS = 20 * 30  # at least a packet a frame; fewer means media went elsewhere

# (who is behind the link, camera's library, watcher's library)
CASES = [pytest.param((side, pub, wat), id=f"{pub}-to-{wat}-{side}-behind-link")
         for side in ("watcher", "publisher")
         for pub, wat in ((UPSTREAM, OURS), (OURS, UPSTREAM), (OURS, OURS))]
if os.environ.get("LK_VIDEO_LOSS_REFERENCE"):
    CASES += [pytest.param((side, UPSTREAM, UPSTREAM),
                           id=f"{UPSTREAM}-to-{UPSTREAM}-{side}-behind-link",
                           marks=pytest.mark.xfail(strict=False, reason="the reference: measured"))
              for side in ("watcher", "publisher")]


@pytest.fixture(scope="module")
def link():
    if os.environ.get("LK_SKIP_VIDEO_LOSS") == "1":
        pytest.skip("LK_SKIP_VIDEO_LOSS=1 (scripts/test.sh: the seccomp passes)")
    why = LossyLink.unavailable()
    if why:
        pytest.skip(why)
    try:
        with LossyLink(loss=LOSS, delay_ms=DELAY_MS, jitter_ms=JITTER_MS, seed=5) as l:
            yield l
    except LinkUnavailable as e:
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def lossy_server(link):
    # started after the link exists, so that it binds the link's address
    with LiveKitServer(advertise=link.root_ip) as s:
        yield s


@pytest.fixture(scope="module", params=CASES)
def watched(request, link, lossy_server):
    side, camera_lib, watcher_lib = request.param
    if OURS in request.param and not os.environ.get("LIVEKIT_FFI_OURS"):
        pytest.skip("LIVEKIT_FFI_OURS is not set (run through ctest)")
    server = lossy_server
    room = f"vloss-{camera_lib}-{watcher_lib}-{side}"

    def start(role, lib, identity, *extra):
        behind = role == side
        url = server.url_for(link.root_ip) if behind else server.url
        return spawn(PEER, lib, role, url, server.token(identity, room=room), *extra,
                     netns=link.netns if behind else None)

    link.set_loss(0)
    procs = []
    try:
        procs.append(start("watcher", watcher_lib, "watcher", str(WATCH_S)))
        wait_ready(procs[0])
        procs.append(start("publisher", camera_lib, "camera"))
        wait_ready(procs[1])
        link.set_loss(LOSS)
        before = link.counters()
        seen = finish(procs[0], timeout=120)
        after = link.counters()
        sent = finish(procs[1], timeout=60)
    finally:
        link.set_loss(0)
        for p in procs:
            p.kill()
            p.wait(timeout=10)
    moved = {d: {k: after[d][k] - before[d][k] for k in after[d]} for d in after}
    # media flows toward the watcher: into the namespace when it is there
    media = moved["to_ns" if side == "watcher" else "from_ns"]
    # the numbers, for whoever runs this with -s
    print(f"\n{camera_lib} to {watcher_lib}, {side} behind the link: "
          f"errors {sent.get('error')} / {seen.get('error')}; "
          f"longest gap {seen.get('longest_gap_s')} s (longest {seen.get('longest_gaps_s')}, "
          f"frames skipped across them {seen.get('longest_gaps_skipped')}), "
          f"share {seen.get('share')}, PSNR min {seen.get('psnr_min')} median "
          f"{seen.get('psnr_median')} dB, sizes {seen.get('sizes')}, in order "
          f"{seen.get('in_order')}, frames {seen.get('window_frames')} in the window "
          f"of {seen.get('frames')}, sent {sent.get('sent')}, first frame after "
          f"{seen.get('first_frame_s')} s; media packets forwarded {media['udp_forwarded']} "
          f"dropped {media['dropped']}; link {moved}")
    for out in (sent, seen):
        assert out["error"] is None, (out, server.tail())
    return side, sent, seen, media


def summary(seen):
    """What a failure should say (pytest cuts a long dict short)."""
    keys = ("longest_gap_s", "longest_gaps_s", "longest_gaps_skipped", "share", "frames",
            "window_frames", "first_frame_s", "psnr_min", "sizes")
    return ", ".join(f"{k} {seen.get(k)}" for k in keys)


def test_video_crossed_the_lossy_link(watched):
    _, _, _, media = watched
    assert media["udp_forwarded"] >= MEDIA_PACKETS and media["dropped"] > 0, media


def test_no_freeze_longer_than_1_s(watched, request):
    seen = watched[2]
    bound = MAX_GAP_S
    if request.node.callspec.params["watched"][2] != OURS:
        bound += UPSTREAM_KEYFRAME_WAIT_S  # its receiver's silence (see above)
    assert seen["window_frames"] > 0, summary(seen)
    assert seen["longest_gap_s"] <= bound, summary(seen)


def test_pictures_arrive_at_the_cameras_size(watched):
    seen = watched[2]
    assert seen["sizes"] == [[640, 480]], summary(seen)


def test_most_pictures_arrive(watched, request):
    if request.node.callspec.params["watched"][2] != OURS:
        pytest.skip("upstream's watcher: its share measures its reader (see above); printed")
    seen = watched[2]
    assert seen["share"] >= MIN_SHARE, summary(seen)


def test_pictures_are_the_ones_sent(watched):
    seen = watched[2]
    assert seen["psnr_min"] >= MIN_PSNR_DB, summary(seen)

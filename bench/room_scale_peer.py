"""One process of bench/room_scale.py, through the upstream Python SDK on
whichever library LIVEKIT_LIB_PATH names.

    room_scale_peer.py URL TOKENS_JSON SECONDS

Joins every room of TOKENS_JSON (a list of tokens, one room each), publishes
a microphone track of a steady tone in each and reads the other
participant's track there. Prints READY once every room has its track
subscribed, waits for a line on stdin, feeds SECONDS of audio to every
room, then prints one JSON object: its CPU seconds over that window, its
peak and final RSS, its threads, and per room how much of the window the
other's tone was heard and the longest wait for a frame.

Audio goes through the SDK in 100 ms frames, as bench/room_tracks.py does:
at 10 ms a frame the bench would measure Python."""
import asyncio
import json
import sys
import time

from livekit import rtc

from room_tracks_peer import FRAME, FRAME_MS, RATE, read_levels, summary, tone_frame

BOUND_S = 300


def status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


class Seat:
    """Our participant in one room: its tone out, the other's in."""

    def __init__(self):
        self.room = rtc.Room()
        self.track = asyncio.get_running_loop().create_future()
        self.rec = {"levels": [], "max_gap_ms": 0.0}
        self.room.on("track_subscribed", lambda track, pub, p: self.track.done() or
                     self.track.set_result(track))

    async def join(self, url, token):
        await asyncio.wait_for(self.room.connect(url, token), BOUND_S)
        self.source = rtc.AudioSource(RATE, 1, queue_size_ms=2 * FRAME_MS)
        track = rtc.LocalAudioTrack.create_audio_track("mic", self.source)
        await self.room.local_participant.publish_track(track, rtc.TrackPublishOptions(
            source=rtc.TrackSource.SOURCE_MICROPHONE))

    async def feed(self, pcm, seconds):
        for _ in range(round(seconds * 1000 / FRAME_MS)):
            await self.source.capture_frame(rtc.AudioFrame(pcm, RATE, 1, FRAME))

    async def read(self, stop):
        stream = rtc.AudioStream(self.track.result(), sample_rate=RATE, num_channels=1,
                                 frame_size_ms=FRAME_MS)
        await read_levels(stream, self.rec, stop)
        await stream.aclose()


async def main(url, tokens_path, seconds):
    seconds = float(seconds)
    with open(tokens_path) as f:
        tokens = json.load(f)
    out = {"error": None}
    seats = [Seat() for _ in tokens]
    try:
        t0 = time.monotonic()
        for seat, token in zip(seats, tokens):
            await seat.join(url, token)
        out["join_all_s"] = time.monotonic() - t0
        await asyncio.wait_for(asyncio.gather(*(s.track for s in seats)), BOUND_S)
        print("READY", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        pcm = tone_frame()
        stop = asyncio.Event()
        readers = [asyncio.ensure_future(s.read(stop)) for s in seats]
        cpu0 = time.process_time()
        await asyncio.gather(*(s.feed(pcm, seconds) for s in seats))
        out["cpu_s"] = time.process_time() - cpu0
        await asyncio.sleep(0.5)  # the last frames on their way
        stop.set()
        await asyncio.wait(readers, timeout=10)
        out["rooms"] = [summary(s.rec, seconds) for s in seats]
        out["rss_peak_mb"] = status("VmHWM") / 1024
        out["rss_mb"] = status("VmRSS") / 1024
        out["threads"] = status("Threads")
    except Exception as e:
        out["error"] = repr(e)
    for s in seats:
        await s.room.disconnect()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))

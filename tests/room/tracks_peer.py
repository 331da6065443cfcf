"""A participant publishing microphone tracks, or one watching them, through
the upstream Python SDK (livekit.rtc), on whichever library
LIVEKIT_LIB_PATH names (unset: the wheel's own Rust library).

    tracks_peer.py publisher URL TOKEN N S publish "early"; once N watchers
                                           say "ready", publish "late",
                                           mute it, unmute it, unpublish
                                           it, then leave, S seconds after
                                           they were ready, with "early"
                                           still published
    tracks_peer.py watcher URL TOKEN       say "ready" once connected;
                                           record the publisher's tracks
                                           until it leaves

No audio is captured: publications, not media, are under test. Prints
READY once connected (the publisher: once "early" is published), then one
JSON object at the end: for a watcher, the publications it found at
connect and the track events in order, each with the publication as the
SDK describes it then."""
import asyncio
import json
import sys
import time

from livekit import rtc

BOUND_S = 60
STEP_S = 1.0
PUBLISHER = "publisher"


def describe(pub):
    return {"sid": pub.sid, "name": pub.name, "kind": pub.kind, "source": pub.source,
            "simulcasted": pub.simulcasted, "width": pub.width, "height": pub.height,
            "mime_type": pub.mime_type, "muted": pub.muted,
            "encryption_type": pub.encryption_type,
            "audio_features": list(pub._info.audio_features),
            "remote": pub._info.remote}


async def publisher(room, out, watchers, linger_s):
    lp = room.local_participant
    ready = set()
    all_ready = asyncio.Event()

    def on_data(p):
        if p.topic == "ready":
            ready.add(p.data.decode())
            if len(ready) >= watchers:
                all_ready.set()

    room.on("data_received", on_data)
    source = rtc.AudioSource(48000, 1)
    early = rtc.LocalAudioTrack.create_audio_track("early", source)
    await lp.publish_track(early, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE))
    print("READY", flush=True)
    await asyncio.wait_for(all_ready.wait(), BOUND_S)
    leave_at = time.monotonic() + linger_s

    late = rtc.LocalAudioTrack.create_audio_track("late", source)
    opts = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_SCREENSHARE_AUDIO, dtx=False)
    pub = await lp.publish_track(late, opts)
    await asyncio.sleep(STEP_S)
    late.mute()
    await asyncio.sleep(STEP_S)
    late.unmute()
    await asyncio.sleep(STEP_S)
    await lp.unpublish_track(pub.sid)
    await asyncio.sleep(max(STEP_S, leave_at - time.monotonic()))
    out["published"] = sorted(p.sid for p in lp.track_publications.values())


async def watcher(room, out):
    events = out["events"] = []
    left = asyncio.Event()
    t0 = time.monotonic()

    def ev(kind, participant, *rest):
        if participant.identity == PUBLISHER:
            events.append([kind, participant.identity, *rest, round(time.monotonic() - t0, 3)])

    room.on("track_published", lambda pub, p: ev("track_published", p, describe(pub)))
    room.on("track_muted", lambda p, pub: ev("track_muted", p, pub.sid, pub.muted))
    room.on("track_unmuted", lambda p, pub: ev("track_unmuted", p, pub.sid, pub.muted))
    room.on("track_unpublished", lambda pub, p: ev("track_unpublished", p, pub.sid,
                                                   sorted(p.track_publications)))

    def on_left(p):
        ev("participant_disconnected", p, sorted(p.track_publications))
        if p.identity == PUBLISHER:
            left.set()

    room.on("participant_disconnected", on_left)
    out["at_connect"] = {p.identity: sorted((describe(pub) for pub in p.track_publications.values()),
                                            key=lambda d: d["sid"])
                         for p in room.remote_participants.values()}
    me = room.local_participant.identity
    await room.local_participant.publish_data(me, reliable=True, topic="ready")
    print("READY", flush=True)
    await asyncio.wait_for(left.wait(), BOUND_S)


async def main(role, url, token, *rest):
    room = rtc.Room()
    out = {"error": None}
    try:
        await asyncio.wait_for(room.connect(url, token), BOUND_S)
    except Exception as e:  # the test reads the error text
        out["error"] = str(e) or repr(e)
        print(json.dumps(out), flush=True)
        return
    try:
        if role == "publisher":
            await publisher(room, out, int(rest[0]), float(rest[1]))
        else:
            await watcher(room, out)
    except Exception as e:
        out["error"] = repr(e)
    await room.disconnect()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))

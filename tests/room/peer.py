"""A participant on the upstream Python SDK (livekit.rtc), on whichever
library LIVEKIT_LIB_PATH names (unset: the wheel's own Rust library).

    peer.py watcher URL TOKEN   connect; report every participant event until
                                 the first participant leaves (bounded)
    peer.py actor URL TOKEN     connect; change metadata, name, attributes;
                                 leave

Prints one JSON object at the end: what it saw, for the test to check."""
import asyncio
import json
import sys
import time

from livekit import rtc

BOUND_S = 30


async def main(role, url, token):
    room = rtc.Room()
    out = {"events": [], "error": None}
    left = asyncio.Event()

    def ev(*e):
        out["events"].append(list(e))

    room.on("participant_connected", lambda p: ev("connected", p.identity))
    room.on("participant_disconnected",
            lambda p: (ev("disconnected", p.identity, p.metadata, p.name, dict(p.attributes)),
                       left.set()))
    room.on("participant_metadata_changed", lambda p, old, new: ev("metadata", p.identity, new))
    room.on("participant_name_changed", lambda p, old, new: ev("name", p.identity, new))
    room.on("participant_attributes_changed",
            lambda changed, p: ev("attributes", p.identity, dict(p.attributes)))
    t0 = time.monotonic()
    try:
        await asyncio.wait_for(room.connect(url, token), BOUND_S)
    except Exception as e:  # the test reads the error text
        out["error"] = str(e) or repr(e)
        out["connect_ms"] = (time.monotonic() - t0) * 1000
        print(json.dumps(out), flush=True)
        return
    out["connect_ms"] = (time.monotonic() - t0) * 1000
    out["remote_at_connect"] = sorted(room.remote_participants)
    print("READY", flush=True)
    if role == "actor":
        await asyncio.sleep(1.0)
        await room.local_participant.set_metadata("meta-1")
        await room.local_participant.set_name("name-1")
        await room.local_participant.set_attributes({"k": "v"})
        await asyncio.sleep(1.0)
    else:
        try:
            await asyncio.wait_for(left.wait(), BOUND_S)
        except asyncio.TimeoutError:
            out["error"] = "nobody left within the bound"
    await room.disconnect()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))

"""A participant on the upstream Python SDK that asks for its session's
WebRTC stats, on whichever library LIVEKIT_LIB_PATH names (unset: the
wheel's own Rust library).

    stats_peer.py URL TOKEN   connect; send one reliable packet; wait for
                              consent checks to have run; get_rtc_stats

Prints one JSON object: each list's reports as {kind: fields} (the fields
as protobuf's JSON mapping names them), or the error."""
import asyncio
import json
import sys

from google.protobuf.json_format import MessageToDict
from livekit import rtc

BOUND_S = 30


def reports(stats):
    out = []
    for s in stats:
        kind = s.WhichOneof("stats")
        out.append({kind: MessageToDict(getattr(s, kind))})
    return out


async def main(url, token):
    room = rtc.Room()
    out = {"error": None}
    try:
        await asyncio.wait_for(room.connect(url, token), BOUND_S)
        await room.local_participant.publish_data(b"counted", reliable=True)
        await asyncio.sleep(6)  # a consent check (every 4 to 6 s) has had its answer
        stats = await asyncio.wait_for(room.get_rtc_stats(), BOUND_S)
        out["publisher"] = reports(stats.publisher_stats)
        out["subscriber"] = reports(stats.subscriber_stats)
    except Exception as e:  # the test reads the error text
        out["error"] = str(e) or repr(e)
    await room.disconnect()
    # once disconnected, asking again is an error, not a hang
    try:
        await asyncio.wait_for(room.get_rtc_stats(), BOUND_S)
        out["after_disconnect"] = "answered"
    except asyncio.TimeoutError:
        out["after_disconnect"] = "hung"
    except Exception as e:
        out["after_disconnect"] = "error: " + (str(e) or repr(e))
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:3]))

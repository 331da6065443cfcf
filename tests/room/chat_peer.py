"""Transcriptions and chat messages through the upstream Python SDK
(livekit.rtc) on whichever library LIVEKIT_LIB_PATH names. The SDK has no
chat API, so chat goes through its FFI client directly, as a client of the
library would.

    chat_peer.py receiver URL TOKEN   record transcriptions and chat messages
                                      until a data packet with topic "done"
    chat_peer.py agent URL TOKEN      (an agent's token: the server forwards
                                      transcriptions only from agents) wait
                                      until "receiver" knows it, publish two
                                      transcriptions, send a chat message,
                                      edit it, send "done"; wait for
                                      "finished"

Prints READY once connected, then one JSON object: what it saw."""
import asyncio
import json
import sys

from livekit import rtc
from livekit.rtc._ffi_client import FfiClient
from livekit.rtc._proto import ffi_pb2

BOUND_S = 60


def chat_json(m):
    return {"id": m.id, "message": m.message, "timestamp": m.timestamp,
            "edit_timestamp": m.edit_timestamp if m.HasField("edit_timestamp") else None,
            "deleted": m.deleted, "generated": m.generated}


async def receiver(room, out):
    done = asyncio.Event()
    out["transcriptions"], out["chat"] = [], []
    room.on("transcription_received", lambda segs, part, pub: out["transcriptions"].append({
        "participant": getattr(part, "identity", None), "publication": pub is not None,
        "segments": [[s.id, s.text, s.start_time, s.end_time, s.final, s.language]
                     for s in segs]}))
    room.on("data_received", lambda p: p.topic == "done" and done.set())
    room.on("participant_connected", lambda p: asyncio.ensure_future(
        room.local_participant.publish_data(b"", topic="seen",
                                            destination_identities=[p.identity])))
    # chat arrives as a room event the SDK does not handle: read it raw
    queue = FfiClient.instance.queue.subscribe(
        asyncio.get_running_loop(),
        filter_fn=lambda e: e.WhichOneof("message") == "room_event"
        and e.room_event.WhichOneof("message") == "chat_message")

    async def read_chat():
        while True:
            e = await queue.get()
            c = e.room_event.chat_message
            out["chat"].append({"from": c.participant_identity, **chat_json(c.message)})

    reader = asyncio.ensure_future(read_chat())
    print("READY", flush=True)
    await asyncio.wait_for(done.wait(), BOUND_S)
    await asyncio.sleep(0.2)  # the chat reader may be one event behind
    reader.cancel()
    # the agent stays until told: leaving drops what its channel still holds
    await room.local_participant.publish_data(b"", topic="finished",
                                              destination_identities=["agent"])


async def chat_request(build):
    """One SendChatMessage/EditChatMessage request and its callback."""
    req = ffi_pb2.FfiRequest()
    build(req)
    ffi = FfiClient.instance
    queue = ffi.queue.subscribe(asyncio.get_running_loop())
    try:
        resp = ffi.request(req)
        cb = await asyncio.wait_for(queue.wait_for(
            lambda e: e.WhichOneof("message") == "chat_message"
            and e.chat_message.async_id == resp.send_chat_message.async_id), BOUND_S)
    finally:
        ffi.queue.unsubscribe(queue)
    if cb.chat_message.WhichOneof("message") == "error":
        raise RuntimeError(cb.chat_message.error)
    return cb.chat_message.chat_message


async def agent(room, out):
    seen, finished = asyncio.Event(), asyncio.Event()
    room.on("data_received", lambda p: (seen if p.topic == "seen" else finished).set())
    print("READY", flush=True)
    await asyncio.wait_for(seen.wait(), BOUND_S)
    lp = room.local_participant
    for i, final in ((1, False), (2, True)):
        await lp.publish_transcription(rtc.Transcription(
            participant_identity="receiver", track_sid="TR_AMchatpeer",
            segments=[rtc.TranscriptionSegment(id=f"seg{i}", text=f"héllo {i}", start_time=i,
                                               end_time=i + 10, final=final, language="en")]))
    handle = lp._ffi_handle.handle

    def send(req):
        req.send_chat_message.local_participant_handle = handle
        req.send_chat_message.message = "first words"
        req.send_chat_message.destination_identities.append("receiver")

    sent = await chat_request(send)
    out["sent"] = chat_json(sent)

    def edit(req):
        req.edit_chat_message.local_participant_handle = handle
        req.edit_chat_message.edit_text = "better words"
        req.edit_chat_message.original_message.CopyFrom(sent)

    out["edited"] = chat_json(await chat_request(edit))
    await lp.publish_data(b"", topic="done", reliable=True)
    await asyncio.wait_for(finished.wait(), BOUND_S)


async def main(role, url, token):
    room = rtc.Room()
    out = {"error": None}
    try:
        await asyncio.wait_for(room.connect(url, token), BOUND_S)
    except Exception as e:
        out["error"] = str(e) or repr(e)
        print(json.dumps(out), flush=True)
        return
    try:
        await (agent if role == "agent" else receiver)(room, out)
    except Exception as e:
        out["error"] = repr(e)
    await room.disconnect()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))

"""One participant of bench/room_data.py, on the upstream Python SDK, on
whichever library LIVEKIT_LIB_PATH names (unset: the wheel's own).

    room_data_peer.py echo URL TOKEN      answer pings, count bulk bytes,
                                          serve the RPC method "echo"
    room_data_peer.py measure URL TOKEN   time pings, RPC calls and a bulk
                                          transfer against "echo"

The measuring side prints one JSON object: the samples, in ms."""
import asyncio
import json
import os
import sys
import tempfile
import time

from livekit import rtc

BOUND_S = 120
PINGS = 300
CALLS = 200
BULK_PACKET = 15000
BULK_BYTES = 30 * 1000 * 1000
FILE_BYTES = 10 * 1000 * 1000


async def echo(room):
    lp = room.local_participant
    bulk = {"bytes": 0}

    def on_data(p):
        who = [p.participant.identity] if p.participant else []
        if p.topic == "ping":
            asyncio.ensure_future(lp.publish_data(p.data, topic="pong",
                                                  destination_identities=who))
        elif p.topic == "bulk":
            bulk["bytes"] += len(p.data)
        elif p.topic == "bulk-end":
            asyncio.ensure_future(lp.publish_data(str(bulk["bytes"]), topic="bulk-done",
                                                  destination_identities=who))
            bulk["bytes"] = 0

    room.on("data_received", on_data)
    room.on("participant_connected", lambda p: asyncio.ensure_future(
        lp.publish_data(b"", topic="seen", destination_identities=[p.identity])))

    async def read_file(reader, identity):
        n = 0
        async for chunk in reader:
            n += len(chunk)
        await lp.publish_data(str(n), topic="file-done", destination_identities=[identity])

    room.register_byte_stream_handler(
        "file", lambda reader, identity: asyncio.ensure_future(read_file(reader, identity)))

    @lp.register_rpc_method("echo")
    async def rpc_echo(data):
        return data.payload

    print("READY", flush=True)
    await asyncio.sleep(BOUND_S * 5)  # until the bench stops us


async def measure(room):
    lp = room.local_participant
    inbox = asyncio.Queue()
    room.on("data_received", lambda p: inbox.put_nowait((p.topic, p.data)))
    print("READY", flush=True)
    while (await asyncio.wait_for(inbox.get(), BOUND_S))[0] != "seen":
        pass
    out = {"ping_ms": [], "rpc_ms": []}
    for i in range(PINGS):
        t0 = time.perf_counter()
        await lp.publish_data(b"%d" % i, topic="ping", destination_identities=["echo"])
        topic, _ = await asyncio.wait_for(inbox.get(), 10)
        assert topic == "pong", topic
        out["ping_ms"].append((time.perf_counter() - t0) * 1000)
    for i in range(CALLS):
        t0 = time.perf_counter()
        assert await lp.perform_rpc(destination_identity="echo", method="echo",
                                    payload=str(i)) == str(i)
        out["rpc_ms"].append((time.perf_counter() - t0) * 1000)
    chunk = b"b" * BULK_PACKET
    t0 = time.perf_counter()
    for _ in range(BULK_BYTES // BULK_PACKET):
        await lp.publish_data(chunk, topic="bulk", destination_identities=["echo"])
    await lp.publish_data(b"", topic="bulk-end", destination_identities=["echo"])
    topic, data = await asyncio.wait_for(inbox.get(), BOUND_S)
    assert topic == "bulk-done" and int(data) == BULK_BYTES, (topic, data)
    out["bulk_mb_s"] = BULK_BYTES / 1e6 / (time.perf_counter() - t0)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "bench.bin")
        with open(path, "wb") as f:
            f.write(os.urandom(FILE_BYTES))
        t0 = time.perf_counter()
        await lp.send_file(path, topic="file", destination_identities=["echo"])
        topic, data = await asyncio.wait_for(inbox.get(), BOUND_S)
        assert topic == "file-done" and int(data) == FILE_BYTES, (topic, data)
        out["file_mb_s"] = FILE_BYTES / 1e6 / (time.perf_counter() - t0)
    print(json.dumps(out), flush=True)


async def main(role, url, token):
    room = rtc.Room()
    await asyncio.wait_for(room.connect(url, token), BOUND_S)
    await (echo if role == "echo" else measure)(room)
    await room.disconnect()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))

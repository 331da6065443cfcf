"""A participant sending or receiving data streams through the upstream
Python SDK (livekit.rtc), on whichever library LIVEKIT_LIB_PATH names.

    stream_peer.py receiver URL TOKEN   read every text and byte stream (topics
                                        "text", "writer", "file", "bytes",
                                        "cut"; "all" with ReadAll; "disk"
                                        with WriteToFile) until the "done"
                                        text stream
    stream_peer.py sender URL TOKEN     wait until "receiver" knows it, then
                                        send those streams

Prints READY once connected, then one JSON object: what it saw."""
import asyncio
import hashlib
import json
import os
import shutil
import sys
import tempfile

from livekit import rtc
from livekit.rtc._ffi_client import FfiClient
from livekit.rtc._proto import ffi_pb2

BOUND_S = 120
# 1 MB of text with characters of 1 to 4 bytes, so chunks cut near them
TEXT = ("aé€😀" * 100000)[:400000]
FILE_BYTES = bytes((i * 7 + i // 256) % 256 for i in range(5 * 1000 * 1000))


def digest(b):
    return hashlib.sha256(b).hexdigest()


async def receiver(room, out):
    done = asyncio.Event()
    seen = out["streams"] = []
    tasks = []

    async def read(reader, identity, kind):
        parts = []
        try:
            async for chunk in reader:
                parts.append(chunk)
            error = None
        except Exception as e:  # the stream's error, as the SDK raises it
            error = str(e)
        data = "".join(parts).encode() if kind == "text" else b"".join(parts)
        info = reader.info
        seen.append({"kind": kind, "topic": info.topic, "from": identity, "chunks": len(parts),
                     "sha": digest(data), "len": len(data), "attributes": dict(info.attributes),
                     "name": getattr(info, "name", None), "mime": info.mime_type,
                     "error": error})
        if info.topic == "done":
            done.set()

    def on_text(reader, identity):
        tasks.append(asyncio.ensure_future(read(reader, identity, "text")))

    def on_bytes(reader, identity):
        tasks.append(asyncio.ensure_future(read(reader, identity, "bytes")))

    # Streams on topic "all" are read with ReadAll, which the SDK does not
    # use: its handler for them is bypassed and the request made directly.
    async def read_all(opened, kind):
        req = ffi_pb2.FfiRequest()
        part = req.text_read_all if kind == "text" else req.byte_read_all
        part.reader_handle = opened.reader.handle.id
        ffi = FfiClient.instance
        which = "text_stream_reader_read_all" if kind == "text" else "byte_stream_reader_read_all"
        queue = ffi.queue.subscribe(asyncio.get_running_loop())
        try:
            resp = ffi.request(req)
            async_id = (resp.text_read_all if kind == "text" else resp.byte_read_all).async_id
            cb = await queue.wait_for(lambda e: e.WhichOneof("message") == which
                                      and getattr(e, which).async_id == async_id)
        finally:
            ffi.queue.unsubscribe(queue)
        cb = getattr(cb, which)
        data = cb.content.encode() if kind == "text" else cb.content
        seen.append({"kind": kind, "topic": f"all-{kind}", "from": opened.participant_identity,
                     "sha": digest(data), "len": len(data),
                     "error": cb.error.description if cb.HasField("error") else None})

    # Streams on topic "disk" go to a file with WriteToFile (not in the SDK
    # either), into this process's directory, its TMPDIR, or one that does
    # not exist, under their own name or another, as the stream's name says.
    disk = tempfile.mkdtemp()
    os.environ["TMPDIR"] = os.path.join(disk, "tmp")  # where neither option says
    os.mkdir(os.environ["TMPDIR"])

    async def write_to_file(opened):
        name = opened.reader.info.name
        req = ffi_pb2.FfiRequest()
        req.byte_write_to_file.reader_handle = opened.reader.handle.id
        if name != "default-dir.bin":
            req.byte_write_to_file.directory = os.path.join(disk, "missing" if name ==
                                                           "no-dir.bin" else "")
        if name == "renamed-src.bin":
            req.byte_write_to_file.name_override = "renamed.bin"
        if name == "override-escape.bin":
            req.byte_write_to_file.name_override = "../escape.bin"
        ffi = FfiClient.instance
        queue = ffi.queue.subscribe(asyncio.get_running_loop())
        try:
            async_id = ffi.request(req).byte_write_to_file.async_id
            cb = await queue.wait_for(
                lambda e: e.WhichOneof("message") == "byte_stream_reader_write_to_file"
                and e.byte_stream_reader_write_to_file.async_id == async_id)
        finally:
            ffi.queue.unsubscribe(queue)
        cb = cb.byte_stream_reader_write_to_file
        path = cb.file_path if cb.HasField("file_path") else None
        data = open(path, "rb").read() if path else b""
        seen.append({"kind": "bytes", "topic": f"disk-{name}", "sha": digest(data),
                     "len": len(data), "path": path and os.path.relpath(path, disk),
                     "error": cb.error.description if cb.HasField("error") else None})

    def bypass(handle_opened, kind):
        def opened(o):
            if o.reader.info.topic == "all":
                tasks.append(asyncio.ensure_future(read_all(o, kind)))
            elif o.reader.info.topic == "disk":
                tasks.append(asyncio.ensure_future(write_to_file(o)))
            else:
                handle_opened(o)
        return opened

    room._handle_text_stream_opened = bypass(room._handle_text_stream_opened, "text")
    room._handle_byte_stream_opened = bypass(room._handle_byte_stream_opened, "bytes")

    for t in ("text", "writer", "done"):
        room.register_text_stream_handler(t, on_text)
    for t in ("file", "bytes", "cut"):
        room.register_byte_stream_handler(t, on_bytes)
    room.on("participant_connected", lambda p: asyncio.ensure_future(
        room.local_participant.publish_data(b"", topic="seen", destination_identities=[p.identity])))
    print("READY", flush=True)
    await asyncio.wait_for(done.wait(), BOUND_S)
    await asyncio.gather(*tasks)
    shutil.rmtree(disk)
    # the sender stays until told: leaving drops what its channel still holds
    await room.local_participant.publish_data(b"", topic="finished",
                                              destination_identities=["sender"])


async def sender(room, out):
    seen, finished = asyncio.Event(), asyncio.Event()
    room.on("data_received", lambda p: (seen if p.topic == "seen" else finished).set())
    print("READY", flush=True)
    await asyncio.wait_for(seen.wait(), BOUND_S)
    lp = room.local_participant
    info = await lp.send_text(TEXT, topic="text", attributes={"a": "1", "b": "two"})
    out["text_info"] = {"id": info.stream_id, "topic": info.topic, "mime": info.mime_type,
                        "total": info.size}
    w = await lp.stream_text(topic="writer", attributes={"w": "x"})
    for part in ("one ", "two ", "three"):
        await w.write(part)
    await w.aclose()
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "payload.bin")
        with open(path, "wb") as f:
            f.write(FILE_BYTES)
        finfo = await lp.send_file(path, topic="file", attributes={"f": "y"})
        out["file_info"] = {"name": finfo.name, "total": finfo.size}
    await lp.send_bytes(b"\x00\x01\x02" * 1000, topic="bytes", name="three.bin")
    await lp.send_text(TEXT[:30000], topic="all")
    await lp.send_bytes(FILE_BYTES[:100000], topic="all", name="all.bin")
    for name in ("disk.bin", "renamed-src.bin", "default-dir.bin", "no-dir.bin",
                 "override-escape.bin"):
        await lp.send_bytes(FILE_BYTES[:2000000], topic="disk", name=name)
    await lp.send_bytes(b"x" * 10, topic="disk", name="../escape.bin")
    dw = await lp.stream_bytes("cut-disk.bin", topic="disk")
    await dw.write(b"z" * 40000)
    await dw.aclose(reason="cancelled")
    bw = await lp.stream_bytes("cut.bin", topic="cut")
    await bw.write(b"z" * 40000)
    await bw.aclose(reason="cancelled")
    await lp.send_text("", topic="done")
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
        await (sender if role == "sender" else receiver)(room, out)
    except Exception as e:
        out["error"] = repr(e)
    await room.disconnect()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))

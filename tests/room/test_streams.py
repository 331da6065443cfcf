"""Data streams between participants on this library and on upstream's,
through the upstream Python SDK unchanged, on a real livekit-server: text
(1 MB, multi-byte characters), a text writer, a 5 MB file, bytes, and a
byte writer closed with a reason arrive byte-exact with their topic,
attributes and name, in chunks, or end with the sender's reason; ReadAll
answers once; WriteToFile puts a stream in a file as upstream does."""
import hashlib
import os

import pytest

from testbed import OURS, UPSTREAM, finish, spawn, wait_ready

PEER = os.path.join(os.path.dirname(__file__), "stream_peer.py")
PAIRS = [(UPSTREAM, UPSTREAM), (OURS, UPSTREAM), (UPSTREAM, OURS), (OURS, OURS)]


def sha(b):
    return hashlib.sha256(b).hexdigest()


TEXT = ("aé€😀" * 100000)[:400000].encode()
FILE_BYTES = bytes((i * 7 + i // 256) % 256 for i in range(5 * 1000 * 1000))


@pytest.fixture(scope="module", params=PAIRS, ids=lambda p: f"{p[0]}-to-{p[1]}")
def exchange(request, server):
    if not os.environ.get("LIVEKIT_FFI_OURS"):
        pytest.skip("LIVEKIT_FFI_OURS is not set (run through ctest)")
    sender_lib, receiver_lib = request.param
    room = f"streams-{sender_lib}-{receiver_lib}"
    r = spawn(PEER, receiver_lib, "receiver", server.url, server.token("receiver", room=room))
    wait_ready(r)
    s = spawn(PEER, sender_lib, "sender", server.url, server.token("sender", room=room))
    wait_ready(s)
    sent, got = finish(s, timeout=150), finish(r, timeout=150)
    assert sent["error"] is None and got["error"] is None, (sent, got, server.tail())
    return request.param, sent, {x["topic"]: x for x in got["streams"]}


def test_text_arrives_whole_in_chunks(exchange):
    (_, receiver), sent, got = exchange
    t = got["text"]
    assert (t["len"], t["sha"], t["error"]) == (len(TEXT), sha(TEXT), None)
    assert t["from"] == "sender" and t["mime"] == "text/plain"
    # ours hands each chunk to the reader as it arrives; upstream's may
    # coalesce what queued before the reader looked, so only ours is held to it
    assert receiver == UPSTREAM or t["chunks"] > 1
    assert t["attributes"] == {"a": "1", "b": "two"}
    assert sent["text_info"]["total"] == len(TEXT)


def test_text_writer_parts_arrive_in_order(exchange):
    _, _, got = exchange
    w = got["writer"]
    assert (w["sha"], w["error"], w["attributes"]) == (sha(b"one two three"), None, {"w": "x"})


def test_file_arrives_byte_exact_with_its_name(exchange):
    (_, receiver), sent, got = exchange
    f = got["file"]
    assert (f["len"], f["sha"], f["error"]) == (len(FILE_BYTES), sha(FILE_BYTES), None)
    assert f["name"] == "payload.bin" and f["attributes"] == {"f": "y"}
    assert receiver == UPSTREAM or f["chunks"] > 1
    assert sent["file_info"] == {"name": "payload.bin", "total": len(FILE_BYTES)}


def test_bytes_arrive(exchange):
    _, _, got = exchange
    b = got["bytes"]
    assert (b["sha"], b["name"], b["error"]) == (sha(b"\x00\x01\x02" * 1000), "three.bin", None)


def test_writer_closed_with_a_reason_ends_in_error(exchange):
    _, _, got = exchange
    c = got["cut"]
    assert c["error"] and "cancelled" in c["error"], c


def test_read_all_answers_once_with_everything(exchange):
    _, _, got = exchange
    text, data = TEXT.decode()[:30000].encode(), FILE_BYTES[:100000]
    assert (got["all-text"]["sha"], got["all-text"]["error"]) == (sha(text), None)
    assert (got["all-bytes"]["sha"], got["all-bytes"]["len"]) == (sha(data), len(data))


def test_write_to_file_puts_the_stream_where_asked(exchange):
    _, _, got = exchange
    data = FILE_BYTES[:2000000]
    for name, path in (("disk.bin", "disk.bin"), ("renamed-src.bin", "renamed.bin"),
                       ("default-dir.bin", "tmp/default-dir.bin")):
        f = got[f"disk-{name}"]
        assert (f["error"], f["path"], f["sha"]) == (None, path, sha(data)), f


def test_write_to_file_refuses_what_it_cannot_write(exchange):
    _, _, got = exchange
    plain = "file name must be a plain file name without path separators or '..'"
    for name, error in (("no-dir.bin", "I/O error: No such file or directory (os error 2)"),
                        ("cut-disk.bin", "stream closed abnormally: cancelled"),
                        ("../escape.bin", plain), ("override-escape.bin", plain)):
        f = got[f"disk-{name}"]
        assert (f["path"], f["error"]) == (None, error), f

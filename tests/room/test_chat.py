"""Transcriptions and chat between participants on this library and on
upstream's, through the upstream Python SDK (chat through its FFI client:
the SDK has no chat API), on a real livekit-server: an agent publishes two
transcriptions and sends then edits a chat message; the receiver gets
them with their segments, sender and edit."""
import os

import pytest

from testbed import OURS, UPSTREAM, finish, spawn, wait_ready

PEER = os.path.join(os.path.dirname(__file__), "chat_peer.py")
PAIRS = [(UPSTREAM, UPSTREAM), (OURS, UPSTREAM), (UPSTREAM, OURS), (OURS, OURS)]


@pytest.fixture(scope="module", params=PAIRS, ids=lambda p: f"{p[0]}-to-{p[1]}")
def talk(request, server):
    if not os.environ.get("LIVEKIT_FFI_OURS"):
        pytest.skip("LIVEKIT_FFI_OURS is not set (run through ctest)")
    agent_lib, receiver_lib = request.param
    room = f"chat-{agent_lib}-{receiver_lib}"
    r = spawn(PEER, receiver_lib, "receiver", server.url, server.token("receiver", room=room))
    wait_ready(r)
    a = spawn(PEER, agent_lib, "agent", server.url,
              server.token("agent", room=room, kind="agent"))
    wait_ready(a)
    sent, got = finish(a, timeout=90), finish(r, timeout=90)
    assert sent["error"] is None and got["error"] is None, (sent, got, server.tail())
    return sent, got


def test_transcriptions_arrive_with_their_segments(talk):
    _, got = talk
    assert [t["segments"] for t in got["transcriptions"]] == [
        [["seg1", "héllo 1", 1, 11, False, "en"]], [["seg2", "héllo 2", 2, 12, True, "en"]]]
    # whose speech: the receiver itself, known to it; no such track is published
    assert {(t["participant"], t["publication"]) for t in got["transcriptions"]} == {
        ("receiver", False)}


def test_chat_message_and_its_edit_arrive(talk):
    sent, got = talk
    assert sent["sent"]["message"] == "first words" and sent["sent"]["edit_timestamp"] is None
    assert len(sent["sent"]["id"]) == 36 and sent["sent"]["timestamp"] > 1.7e12
    assert sent["edited"]["id"] == sent["sent"]["id"]
    assert sent["edited"]["message"] == "better words"
    assert sent["edited"]["edit_timestamp"] >= sent["sent"]["timestamp"]
    assert [(c["from"], c["id"], c["message"]) for c in got["chat"]] == [
        ("agent", sent["sent"]["id"], "first words"), ("agent", sent["sent"]["id"], "better words")]
    assert got["chat"][1]["edit_timestamp"] == sent["edited"]["edit_timestamp"]
    assert got["chat"][0]["edit_timestamp"] is None

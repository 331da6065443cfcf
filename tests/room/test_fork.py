"""fork() in a room: a process on this library joins room A and forks; the
child calls livekit_ffi_reinit, joins room B and makes RPC and data round
trips there, while the parent keeps making them in room A, before, during
and after the child's life; each room's echo participant (on upstream's
library) hears only from its own visitor.
Upstream's runtime cannot do this: its child hangs on anything
asynchronous (and its SDK refuses to try)."""
import os

import pytest

from testbed import OURS, UPSTREAM, finish, spawn, wait_ready

PEER = os.path.join(os.path.dirname(__file__), "fork_peer.py")


@pytest.fixture(scope="module")
def forked(server):
    if not os.environ.get("LIVEKIT_FFI_OURS"):
        pytest.skip("LIVEKIT_FFI_OURS is not set (run through ctest)")
    echo_a = spawn(PEER, UPSTREAM, "echo", server.url, server.token("echo-a", room="fork-a"))
    echo_b = spawn(PEER, UPSTREAM, "echo", server.url, server.token("echo-b", room="fork-b"))
    try:
        wait_ready(echo_a)
        wait_ready(echo_b)
        f = spawn(PEER, OURS, "forker", server.url, server.token("parent", room="fork-a"),
                  server.token("child", room="fork-b"))
        wait_ready(f)
        got = finish(f, timeout=150)
    finally:
        a, b = finish(echo_a, timeout=30), finish(echo_b, timeout=30)
    assert got["error"] is None, (got, server.tail())
    return got, a, b


def test_the_parent_keeps_talking_in_its_room(forked):
    got, _, _ = forked
    for phase in ("before", "during", "after"):
        assert got[phase]["bad"] == 0 and got[phase]["ok"] >= 1, (phase, got)
    assert got["state"] == 1  # CONN_CONNECTED, after the child came and went


def test_the_child_reinits_and_joins_another_room(forked):
    got, _, _ = forked
    child = got["child"]
    assert child["error"] is None, child
    assert child["room"] == "fork-b"
    assert (child["ok"], child["bad"]) == (20, 0)


def test_each_room_sees_only_its_own_visitor(forked):
    _, a, b = forked
    assert a["error"] is None and b["error"] is None, (a, b)
    assert (a["callers"], b["callers"]) == (["parent"], ["child"]), (a, b)

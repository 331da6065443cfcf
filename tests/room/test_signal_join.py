"""Runs the C signal-connection suite (tests/room/test_signal.c) against a
real livekit-server: join, keepalive, leave, refusals."""
import os
import subprocess

import testbed


def test_signal_connection_against_livekit_server(server, build_dir):
    env = dict(os.environ,
               LK_URL=server.url,
               LK_TOKEN=server.token("alice", room="signal-room"),
               LK_IDENTITY="alice",
               LK_ROOM="signal-room",
               LK_BAD_TOKEN=server.token("mallory", secret="not-the-secret-" * 3),
               LK_DEAD_URL=f"ws://127.0.0.1:{testbed.free_port()}")
    r = subprocess.run([os.path.join(build_dir, "tests", "test_room_signal")], env=env,
                       capture_output=True, text=True, timeout=120)
    print(r.stdout, r.stderr)
    assert r.returncode == 0, server.tail()
    # every case ran: none skipped for want of the environment
    assert "4 test(s) run" in r.stdout + r.stderr
    assert "SKIPPED" not in r.stdout + r.stderr

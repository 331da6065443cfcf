"""Runs tests/room/test_transport.c against a real livekit-server: our
PeerConnection (ICE, DTLS, SCTP, LiveKit's data channels) comes up with
the server's (pion's)."""
import os
import subprocess


def test_peer_connection_against_livekit_server(server, build_dir):
    env = dict(os.environ, LK_URL=server.url,
               LK_TOKEN=server.token("transport-probe", room="transport-room"))
    r = subprocess.run([os.path.join(build_dir, "tests", "test_room_transport")], env=env,
                       capture_output=True, text=True, timeout=120)
    print(r.stdout, r.stderr)
    assert r.returncode == 0, server.tail()
    assert "1 test(s) run" in r.stdout + r.stderr
    assert "SKIPPED" not in r.stdout + r.stderr

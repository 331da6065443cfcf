"""What each participant of the interop matrix does and checks, shared by
the Python peer (py_peer.py), the browser's page (page/peer.js gets it as
JSON from page_spec()) and the driver (matrix.py)."""

BOUND_S = 30        # connect, and the peer to become ready
RECEIVE_S = 25      # everything from the peer to arrive

STATE = "interop"   # the participant attribute saying where one is
READY = "ready"     # handlers registered: send to me
DONE = "done"       # I have all I wait for (or gave up): you may leave

DATA_TOPIC = "interop-data"
TEXT_TOPIC = "interop-text"
BYTES_TOPIC = "interop-bytes"
RPC_METHOD = "interop.echo"
STREAM_ATTRS = {"from": "interop", "kind": "check"}

TONE_HZ = 440
TONE_DBFS = -20
MIN_LEVEL_DBFS = -40
TONE_TOLERANCE_HZ = 15
MIN_VIDEO_FRAMES = 20

TEXT_LINES = 1000    # about 30 kB: several chunks
BYTES_LEN = 200_000  # several chunks, one writer

# What a participant waits to receive from its peer (the RPC answer it
# waits for in its own call).
RECEIVED = ("join", "data", "text", "bytes", "audio", "video")
# The table's columns, in order.
CAPABILITIES = ("join", "data", "rpc", "text", "bytes", "audio", "video")


def data_payload(sender):
    return f"data from {sender}"


def rpc_payload(caller):
    return f"rpc from {caller}"


def rpc_answer(payload):
    return "echo: " + payload


def text_payload(sender):
    # Two-byte characters too: chunks must not cut one in half.
    return "".join(f"{i:05d} text from {sender}, grüße\n" for i in range(TEXT_LINES))


def bytes_payload():
    return bytes((i * 31 + 7) & 255 for i in range(BYTES_LEN))


def page_spec():
    return {k: v for k, v in globals().items() if k.isupper()}

"""The core contract, as a ctypes client sees it: requests, response
handles, drops, errors, and honest refusals of what this core does not serve."""

import ctypes
import random
import time

import pytest

import lkffi
from lkffi import proto, room, FfiError


def test_response_handle_owns_the_bytes_until_dropped(lib):
    h, body = lib.request_raw(
        proto.FfiRequest(dispose=proto.DisposeRequest(**{"async": True})).SerializeToString())
    assert h != lkffi.INVALID_HANDLE
    res = proto.FfiResponse()
    res.ParseFromString(body)
    assert res.WhichOneof("message") == "dispose"
    assert res.dispose.HasField("async_id")
    lib.wait_callback("dispose", res.dispose.async_id)
    assert lib.drop(h)
    assert not lib.drop(h), "a second drop of the same handle is refused"
    assert "unknown" in lib.last_error()


def test_unknown_handle_drop_returns_false_with_reason(lib):
    assert not lib.drop(987654321)
    assert "987654321" in lib.last_error()
    assert not lib.drop(0)


def test_success_clears_the_last_error(lib):
    lib.drop(987654321)
    assert lib.last_error() is not None
    lib.request(dispose=proto.DisposeRequest(**{"async": True}))
    assert lib.last_error() is None


def test_empty_request_is_refused(lib):
    h, body = lib.request_raw(b"")
    assert h == lkffi.INVALID_HANDLE and body is None
    assert "empty request" in lib.last_error()


def test_malformed_bytes_are_refused(lib):
    h, _ = lib.request_raw(b"\xff\xff\xff\xff\xff")
    assert h == lkffi.INVALID_HANDLE
    assert "malformed" in lib.last_error()


def test_unknown_variant_names_its_field(lib):
    # Field 120, length-delimited, empty: a variant from a future protocol.
    h, _ = lib.request_raw(bytes([0xC2, 0x07, 0x00]))
    assert h == lkffi.INVALID_HANDLE
    assert "field 120" in lib.last_error()


def test_null_result_pointers_are_refused(lib):
    data = proto.FfiRequest(dispose=proto.DisposeRequest()).SerializeToString()
    buf = (ctypes.c_ubyte * len(data)).from_buffer_copy(data)
    assert lib.lib.livekit_ffi_request(buf, len(data), None, None) == lkffi.INVALID_HANDLE
    assert "res_ptr" in lib.last_error()


def test_random_and_truncated_bytes_never_crash(lib):
    rng = random.Random(1234)
    valid = proto.FfiRequest(
        connect=room.ConnectRequest(request_async_id=5)).SerializeToString()
    refused = 0
    for i in range(20000):
        if i % 2:
            data = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 40)))
        else:
            data = valid[: rng.randrange(0, len(valid))]
        h, _ = lib.request_raw(data)
        if h == lkffi.INVALID_HANDLE:
            refused += 1
            assert lib.last_error()
        else:
            assert lib.drop(h)
    assert refused > 0
    lib.drain_events()


def test_connect_without_url_answers_then_calls_back_with_an_error(lib):
    sent = time.monotonic()
    res = lib.request(connect=room.ConnectRequest(token="t"))
    assert res.async_id != 0
    arrived, ev = lib.wait_event_timed(
        lambda ev: ev.WhichOneof("message") == "connect"
        and ev.connect.async_id == res.async_id)
    assert ev.connect.WhichOneof("message") == "error"
    assert "invalid URL" in ev.connect.error
    assert arrived - sent < 2.0  # a hang guard; the bench measures the latency


def test_request_async_id_is_honoured(lib):
    res = lib.request(connect=room.ConnectRequest(request_async_id=777))
    assert res.async_id == 777
    cb = lib.wait_callback("connect", 777)
    assert cb.error


def test_structured_callback_errors_are_complete(lib):
    # PublishDataTrackCallback.error is a message with required fields: our
    # Python classes reject the event unless they are all present.
    import room_data_pb2
    res = lib.request(publish_data_track=room_data_pb2.PublishDataTrackRequest(
        local_participant_handle=1))
    cb = lib.wait_callback("publish_data_track", res.async_id)
    assert "not supported" in cb.error.message


def test_sync_request_without_error_slot_fails_with_reason(lib):
    with pytest.raises(FfiError, match="set_track_subscription_permissions is not supported"):
        lib.request(set_track_subscription_permissions=room.SetTrackSubscriptionPermissionsRequest(
            local_participant_handle=3))


def test_sync_request_with_error_slot_answers_with_it(lib):
    import audio_frame_pb2
    res = lib.request(load_audio_filter_plugin=audio_frame_pb2.LoadAudioFilterPluginRequest())
    assert "not supported" in res.error


def test_data_and_rpc_requests_name_what_is_wrong(lib):
    with pytest.raises(FfiError, match="handle"):
        lib.request(publish_data=room.PublishDataRequest(
            local_participant_handle=987654, data_ptr=0, data_len=0, reliable=True))
    with pytest.raises(FfiError, match="needs data_ptr"):
        lib.request(publish_data=room.PublishDataRequest(local_participant_handle=987654,
                                                         data_len=4))
    with pytest.raises(FfiError, match="needs destination_identity"):
        lib.request(perform_rpc=room.PerformRpcRequest(local_participant_handle=987654,
                                                       method="m", payload=""))
    with pytest.raises(FfiError, match="needs a method"):
        lib.request(register_rpc_method=room.RegisterRpcMethodRequest(
            local_participant_handle=987654))
    with pytest.raises(FfiError, match="handle"):
        lib.request(rpc_method_invocation_response=room.RpcMethodInvocationResponseRequest(
            local_participant_handle=987654, invocation_id=1, payload="x"))

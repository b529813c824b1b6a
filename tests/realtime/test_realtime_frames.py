"""Frame encoding: JSON text on one line, and the WebSocket framing servers send."""

from __future__ import annotations

import pytest
from wsproto.frame_protocol import FrameDecoder, Opcode

from app.realtime.frames import encode_frame, is_ping, websocket_text_frame


@pytest.mark.parametrize("size", [0, 125, 126, 65_535, 65_536, 200_000])
def test_text_frames_of_every_length_decode_as_the_same_text(size: int):
    text = "é" * (size // 2) + "x" * (size % 2)
    decoder = FrameDecoder(client=True)  # the client side reads unmasked server frames
    decoder.receive_bytes(websocket_text_frame(text))

    frame = decoder.process_buffer()

    assert frame is not None
    assert (frame.opcode, frame.message_finished) == (Opcode.TEXT, True)
    assert frame.payload == text.encode()


def test_frames_are_one_compact_line_whatever_the_payload():
    frame = encode_frame("message", {"message": "two\nlines", "data": '{"a": 1}'})
    assert "\n" not in frame
    assert frame == r'{"event":"message","data":{"message":"two\nlines","data":"{\"a\": 1}"}}'


@pytest.mark.parametrize(
    ("raw", "expected"),
    [('{"event": "ping"}', True), ('{"event":"pong"}', False), ("ping", False), (b"\xff", False)],
)
def test_only_a_ping_event_is_a_ping(raw: str | bytes, expected: bool):
    assert is_ping(raw) is expected

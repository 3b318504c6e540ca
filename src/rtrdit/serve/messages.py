"""The JSON text messages a live client sends (over the WebSocket, the WebRTC data channel or
POST /streams/NAME): ``{"type": "style", "prompt": ..., "reference": <base64 image>}`` and
``{"type": "control", ...}``; and the error message sent back."""

from __future__ import annotations

import base64
import binascii
import json

from rtrdit.serve.scheduler import Limits, LiveSession, ServeError, decode_reference


def error_message(message: str) -> dict[str, str]:
    """The error message sent to a client: {"type": "error", "message": ...}."""
    return {"type": "error", "message": message}


def handle_text(session: LiveSession, text: str, limits: Limits) -> None:
    """Apply one client text message (style or control) to a session; ServeError if it is bad."""
    if len(text) > limits.max_text_bytes:
        raise ServeError(f"message is too large ({len(text)} bytes, at most {limits.max_text_bytes})")
    try:
        msg = json.loads(text)
    except json.JSONDecodeError:
        raise ServeError("a text message must be a JSON object") from None
    if not isinstance(msg, dict):
        raise ServeError("a text message must be a JSON object")
    kind = msg.get("type")
    if kind == "style":
        unknown = set(msg) - {"type", "prompt", "reference"}
        if unknown:
            raise ServeError(f"unknown style field(s): {', '.join(sorted(unknown))}")
        prompt, ref = msg.get("prompt"), msg.get("reference")
        if prompt is not None and not isinstance(prompt, str):
            raise ServeError("prompt must be a string")
        reference = None
        if ref is not None:
            if not isinstance(ref, str):
                raise ServeError("reference must be a base64 image string")
            if ref.startswith("data:"):  # a data URL from a browser's FileReader
                ref = ref.partition(",")[2]
            try:
                data = base64.b64decode(ref, validate=True)
            except (binascii.Error, ValueError):
                raise ServeError("reference is not valid base64") from None
            reference = decode_reference(data, limits)
        session.set_style(prompt=prompt, reference=reference)
    elif kind == "control":
        session.control(msg)
    else:
        raise ServeError(f"unknown message type {kind!r} (style, control)")


__all__ = ["error_message", "handle_text"]

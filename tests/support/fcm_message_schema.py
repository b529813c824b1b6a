"""What FCM HTTP v1 accepts as the body of messages:send, checked as its front end does.

The body is the proto3 JSON form of SendMessageRequest: field names in snake_case or
lowerCamelCase, unknown names refused ("Invalid JSON payload received. Unknown name ..."),
values of the wrong type refused ("Invalid value at 'message.data[0].value' (TYPE_STRING),
1"). The parts Herald does not model (webpush, apns, android.notification, fcm_options) are
only required to be JSON objects.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

_FCM_V1 = "type.googleapis.com/google.firebase.fcm.v1."
# Each message type's fields, by proto name, with the kind of their value: another entry
# here, an opaque object, or a scalar.
_MESSAGES: dict[str, dict[str, str]] = {
    "SendMessageRequest": {"message": "Message", "validate_only": "bool"},
    "Message": {
        "name": "string",
        "token": "string",
        "topic": "string",
        "condition": "string",
        "data": "map",
        "notification": "Notification",
        "android": "AndroidConfig",
        "webpush": "WebpushConfig",
        "apns": "ApnsConfig",
        "fcm_options": "FcmOptions",
    },
    "Notification": {"title": "string", "body": "string", "image": "string"},
    "AndroidConfig": {
        "collapse_key": "string",
        "priority": "AndroidMessagePriority",
        "ttl": "Duration",
        "restricted_package_name": "string",
        "data": "map",
        "notification": "AndroidNotification",
        "fcm_options": "AndroidFcmOptions",
        "direct_boot_ok": "bool",
    },
}
_OPAQUE = frozenset(
    {"WebpushConfig", "ApnsConfig", "FcmOptions", "AndroidNotification", "AndroidFcmOptions"}
)
_DURATION = re.compile(r"\d+(\.\d{1,9})?s")
_SCALARS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "string": ("TYPE_STRING", lambda value: isinstance(value, str)),
    "bool": ("TYPE_BOOL", lambda value: isinstance(value, bool)),
    "Duration": (
        "type.googleapis.com/google.protobuf.Duration",
        lambda value: isinstance(value, str) and bool(_DURATION.fullmatch(value)),
    ),
    # FCM takes the enum's names in any case: firebase-admin sends "high" and "normal".
    "AndroidMessagePriority": (
        _FCM_V1 + "AndroidMessagePriority",
        lambda value: isinstance(value, str) and value.upper() in {"NORMAL", "HIGH"},
    ),
}


class InvalidArgument(Exception):
    """A 400 INVALID_ARGUMENT; `body` is the error FCM answers with."""

    def __init__(self, field: str, description: str, *, fcm_error: bool = False) -> None:
        super().__init__(description)
        violation = {"field": field, "description": description}
        details: list[dict[str, Any]] = [
            {"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [violation]}
        ]
        # Only FCM's own checks name an errorCode; its front end's JSON parsing does not.
        if fcm_error:
            details.append({"@type": _FCM_V1 + "FcmError", "errorCode": "INVALID_ARGUMENT"})
        error = {"code": 400, "message": description, "status": "INVALID_ARGUMENT"}
        self.body = {"error": error | {"details": details}}


def validated_send_request(raw: bytes) -> tuple[dict[str, Any], bool]:
    """The message of this messages:send body, with snake_case field names, and whether the
    body asks only to validate it."""
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise InvalidArgument("", "Invalid JSON payload received. Unexpected token.") from exc
    request = _checked(body, "SendMessageRequest", "")
    message = request.get("message")
    if message is None:
        raise InvalidArgument("message", "The message is not set.", fcm_error=True)
    targets = [field for field in ("token", "topic", "condition") if field in message]
    if not targets:
        raise InvalidArgument("message", "Recipient of the message is not set.", fcm_error=True)
    if len(targets) > 1:
        description = (
            "Invalid value at 'message' (oneof), oneof field 'target' is already set. "
            f"Cannot set '{targets[1]}'"
        )
        raise InvalidArgument("message", description)
    return message, request.get("validate_only", False)


def _invalid_value(path: str, type_name: str, value: Any) -> InvalidArgument:
    return InvalidArgument(path, f"Invalid value at '{path}' ({type_name}), {json.dumps(value)}")


def _checked(value: Any, kind: str, path: str) -> Any:
    if kind in _MESSAGES:
        return _checked_message(value, kind, path)
    if kind == "map":
        return _checked_string_map(value, path)
    if kind in _OPAQUE:
        if not isinstance(value, dict):
            raise _invalid_value(path, _FCM_V1 + kind, value)
        return value
    type_name, accepts = _SCALARS[kind]
    if not accepts(value):
        raise _invalid_value(path, type_name, value)
    return value


def _lower_camel(snake: str) -> str:
    first, *rest = snake.split("_")
    return first + "".join(part.title() for part in rest)


def _checked_message(value: Any, kind: str, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _invalid_value(path, _FCM_V1 + kind, value)
    fields = _MESSAGES[kind]
    names = {name: name for name in fields} | {_lower_camel(name): name for name in fields}
    checked: dict[str, Any] = {}
    for given, field_value in value.items():
        field = names.get(given)
        if field is None:
            where = f" at '{path}'" if path else ""
            description = f'Invalid JSON payload received. Unknown name "{given}"{where}: '
            raise InvalidArgument(path, description + "Cannot find field.")
        if field_value is not None:  # proto3 JSON: null leaves a field unset
            checked[field] = _checked(field_value, fields[field], f"{path}.{field}".lstrip("."))
    return checked


def _checked_string_map(value: Any, path: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _invalid_value(path, _FCM_V1 + "Message.DataEntry", value)
    for index, entry in enumerate(value.values()):
        if not isinstance(entry, str):
            raise _invalid_value(f"{path}[{index}].value", "TYPE_STRING", entry)
    return value

"""The seed 001/002 wire helpers: timestamps in and out, and list bodies."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from marshmallow import Schema, ValidationError

from app.wire import EpochSeconds, list_body, parse_timestamp

MOMENT = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        "2024-05-06T07:08:09Z",
        "2024-05-06T09:08:09+02:00",
        "2024-05-06T07:08:09",
        1714979289,
        "1714979289",
    ],
)
def test_rfc3339_and_unix_seconds_are_read_as_utc(value):
    assert parse_timestamp(value) == MOMENT


@pytest.mark.parametrize("value", ["yesterday", "", None, True, [], "1e30", "nan"])
def test_anything_else_is_not_a_timestamp(value):
    assert parse_timestamp(value) is None


def test_epoch_seconds_dump_integers_and_refuse_garbage():
    class Moment(Schema):
        at = EpochSeconds(allow_none=True)

    assert Moment().dump({"at": MOMENT}) == {"at": 1714979289}
    assert Moment().dump({"at": None}) == {"at": None}
    with pytest.raises(ValidationError):
        Moment().load({"at": "soon"})


def test_list_body_counts_pages():
    assert list_body("users", [1, 2], total=5, page=1, per_page=2) == {
        "users": [1, 2],
        "total": 5,
        "per_page": 2,
        "current_page": 1,
        "total_pages": 3,
    }
    assert list_body("users", [], total=0, page=1, per_page=20)["total_pages"] == 0

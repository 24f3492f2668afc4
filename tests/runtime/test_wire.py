"""What crosses the wire: message ids and received properties as plain dicts."""

from __future__ import annotations

import uuid

import pika  # type: ignore[import-untyped]

from mqwire.runtime.wire import PROPERTY_NAMES, new_message_id, properties_dict


def test_message_ids_are_random_version_4_uuids_in_hex() -> None:
    ids = [new_message_id() for _ in range(2000)]

    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(hex=text)
        assert parsed.hex == text  # 32 lowercase hex digits, no dashes
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)


def test_message_ids_vary_in_every_random_position() -> None:
    # 122 of 128 bits are random: over many ids, each hex digit but the version takes
    # several values (a constant digit would mean a masking bug).
    ids = [new_message_id() for _ in range(500)]
    constant = [i for i in range(32) if len({text[i] for text in ids}) == 1]
    assert constant == [12]  # the version digit, always "4"


def test_properties_dict_keeps_the_set_fields_in_amqp_order() -> None:
    props = pika.BasicProperties(
        message_id="m1", content_type="application/json", headers={"a": 1}, delivery_mode=2
    )

    got = properties_dict(props)

    assert got == {
        "content_type": "application/json",
        "headers": {"a": 1},
        "delivery_mode": 2,
        "message_id": "m1",
    }
    assert list(got) == [name for name in PROPERTY_NAMES if name in got]


def test_properties_dict_reads_decoded_properties_exactly() -> None:
    # The fast path reads pika's instance dict: it must hold the AMQP fields and nothing else,
    # also for properties decoded off the wire (a pika upgrade that adds state fails here).
    sent = pika.BasicProperties(content_type="text/plain", priority=3, timestamp=7, app_id="a")
    decoded = pika.BasicProperties()
    decoded.decode(b"".join(sent.encode()))

    assert list(vars(decoded)) == list(PROPERTY_NAMES)
    assert properties_dict(decoded) == {
        "content_type": "text/plain", "priority": 3, "timestamp": 7, "app_id": "a",
    }  # fmt: skip


def test_properties_dict_reads_an_object_without_instance_dict_field_by_field() -> None:
    class Slotted:
        __slots__ = ("content_type", "message_id")

        def __init__(self) -> None:
            self.content_type, self.message_id = "application/json", "m2"

    assert properties_dict(Slotted()) == {"content_type": "application/json", "message_id": "m2"}

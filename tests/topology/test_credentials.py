"""URL credentials: literal passwords are refused, and masked in logs."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mqwire.topology.credentials import literal_password_problem, mask_resolved_url, mask_url
from mqwire.topology.placeholders import resolve

# --------------------------------------------------------------------------- literal passwords

ALLOWED = [
    "amqp://app:${MQ_PASSWORD}@host/vhost",
    "${AMQP_URL}",
    "${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2F}",
    "amqp://guest:guest@127.0.0.1:5672/%2F",
    "amqp://gu%65st:%67uest@localhost/",  # guest/guest, percent-encoded
    "amqp://guest:${P:-guest}@localhost/",
    "amqp://app@host/vhost",  # no password
    "amqp://app:@host/vhost",  # empty password
    "amqp://host:5672/%2F",  # no userinfo
    "amqp://${MQ_USER}:${MQ_PASSWORD}@host/",
    "amqp://app:${MQ_PASSWORD:-}@host/",  # empty default
    "amqps://host/vhost?password=${MQ_PASSWORD}",
    "${AMQP_URL:-amqp://localhost/}",
]


@pytest.mark.parametrize("url", ALLOWED)
def test_no_literal_password(url: str) -> None:
    assert literal_password_problem(url) is None


REFUSED = [
    # url, the password that must not appear, the expected message
    (
        "amqp://app:s3cr3t@host/vhost",
        "s3cr3t",
        "the URL has a literal password for user 'app': write "
        "'amqp://app:${MQ_PASSWORD}@...' and set MQ_PASSWORD in the environment",
    ),
    (
        "amqps://app:${MQ_PASSWORD:-s3cr3t}@host/vhost",
        "s3cr3t",
        "the URL has a literal password for user 'app' in the default of '${MQ_PASSWORD}': "
        "write 'amqps://app:${MQ_PASSWORD}@...' and set MQ_PASSWORD in the environment",
    ),
    (
        "${AMQP_URL:-amqp://app:s3cr3t@host/vhost}",
        "s3cr3t",
        "the default of '${AMQP_URL}' has a literal password for user 'app': write "
        "'${AMQP_URL}' with no default, or 'amqp://app:${MQ_PASSWORD}@...', "
        "and set the variable in the environment",
    ),
    (
        "amqp://guest:secret@localhost/",
        "secret",
        "the URL has a literal password for user 'guest': write "
        "'amqp://guest:${MQ_PASSWORD}@...' and set MQ_PASSWORD in the environment",
    ),
    (
        "amqp://admin:guest@localhost/",
        "guest",
        "the URL has a literal password for user 'admin': write "
        "'amqp://admin:${MQ_PASSWORD}@...' and set MQ_PASSWORD in the environment",
    ),
    (
        "amqp://ops%40corp:p%40ss@host/",
        "p%40ss",
        "the URL has a literal password for user 'ops@corp': write "
        "'amqp://ops%40corp:${MQ_PASSWORD}@...' and set MQ_PASSWORD in the environment",
    ),
    (
        "amqp://app:pre${SUFFIX}@host/",
        "pre",
        "the URL has a literal password for user 'app': write "
        "'amqp://app:${MQ_PASSWORD}@...' and set MQ_PASSWORD in the environment",
    ),
    (
        "amqp://host/vhost?password=s3cr3t&heartbeat=5",
        "s3cr3t",
        "the URL has a literal password in its 'password' query parameter: write "
        "'password=${MQ_PASSWORD}' and set MQ_PASSWORD in the environment",
    ),
]


@pytest.mark.parametrize(("url", "password", "message"), REFUSED)
def test_literal_password_is_refused(url: str, password: str, message: str) -> None:
    problem = literal_password_problem(url)
    assert problem == message
    assert problem is not None
    assert password not in problem


def test_guest_user_from_a_placeholder_is_not_the_guest_account() -> None:
    problem = literal_password_problem("amqp://${MQ_USER:-guest}:guest@localhost/")
    assert problem is not None
    assert "for user '${MQ_USER:-guest}'" in problem


# --------------------------------------------------------------------------- mask_url

MASK = [
    # url, secret (None when there is nothing to hide), expected
    ("amqp://app:s3cr3t@host:5672/%2F", "s3cr3t", "amqp://app:***@host:5672/%2F"),
    ("amqp://app:${MQ_PASSWORD}@host/v", None, "amqp://app:${MQ_PASSWORD}@host/v"),
    ("amqp://app:${MQ_PASSWORD:-s3cr3t}@host/v", "s3cr3t", "amqp://app:${MQ_PASSWORD:-***}@host/v"),
    ("${AMQP_URL:-amqp://app:s3cr3t@host/}", "s3cr3t", "${AMQP_URL:-amqp://app:***@host/}"),
    ("amqp://app:p%40ss%2Fw0rd@host/", "p%40ss%2Fw0rd", "amqp://app:***@host/"),
    ("amqp://app:p@ss/w#rd@host/v", "ss/w#rd", "amqp://app:***@host/v"),  # unencoded
    ("amqp://host/v?password=s3cr3t&x=1", "s3cr3t", "amqp://host/v?password=***&x=1"),
    ("amqp://host/v?x=1&PASSWORD=s3cr3t", "s3cr3t", "amqp://host/v?x=1&PASSWORD=***"),
    ("amqp://host/v?password=${MQ_PASSWORD}", None, "amqp://host/v?password=${MQ_PASSWORD}"),
    ("amqp://app@host/v", None, "amqp://app@host/v"),
    ("amqp://host:5672/%2F", None, "amqp://host:5672/%2F"),
    ("amqp://${U}:${P}@${H}/", None, "amqp://${U}:${P}@${H}/"),
    ("amqp://app:a${P}b@host/", None, "amqp://app:***${P}***@host/"),
]


@pytest.mark.parametrize(("url", "secret", "expected"), MASK)
def test_mask_url(url: str, secret: str | None, expected: str) -> None:
    masked = mask_url(url)
    assert masked == expected
    if secret is not None:
        assert secret not in masked


def test_mask_url_after_resolve_hides_the_resolved_password() -> None:
    url = resolve("amqp://app:${MQ_PASSWORD}@host/%2F", {"MQ_PASSWORD": "Zq9-very-secret"})
    masked = mask_url(url)
    assert "Zq9-very-secret" not in masked
    assert masked == "amqp://app:***@host/%2F"


# --------------------------------------------------------------------------- properties

_PASSWORD = st.text(
    st.sampled_from("ABCDEGHJKLMNPQRSTUVWXYZ!*~-_./?#@%"), min_size=4, max_size=16
).filter(lambda s: re.search(r"[A-Z]", s) is not None)


@given(_PASSWORD, st.booleans())
def test_mask_url_never_shows_a_password(password: str, in_default: bool) -> None:
    url = f"amqp://app:{password}@h.example/%2F"
    if in_default:
        url = "${AMQP_URL:-" + url + "}"
    assert password not in mask_url(url)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("amqp://u:s3cr3t@h:5672/%2F", "amqp://u:***@h:5672/%2F"),
        ("amqp://u:a${B}c@h/v", "amqp://u:***@h/v"),
        ("amqps://u:p@ss@h/v?heartbeat=5&password=x", "amqps://u:***@h/v?heartbeat=5&password=***"),
        ("amqp://h/%2F", "amqp://h/%2F"),
    ],
)
def test_mask_resolved_url(url: str, shown: str) -> None:
    assert mask_resolved_url(url) == shown

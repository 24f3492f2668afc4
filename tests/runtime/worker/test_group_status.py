"""A process group's ``/healthz`` and ``/readyz`` made of its children's answers
(``group_status.py``): the children are a hand-written asker, keyed by socket path."""

from __future__ import annotations

from mqwire.runtime.worker.group_status import Answer, Child, answers, liveness, readiness


def asker(replies: dict[str, tuple[int, str] | OSError]):  # type: ignore[no-untyped-def]
    def ask(path: str, what: str) -> tuple[int, str]:
        reply = replies[f"{path}{what}"]
        if isinstance(reply, OSError):
            raise reply
        return reply

    return ask


CHILDREN = [Child("child 0 (pid 10)", "/s0", True), Child("child 1 (pid 11)", "/s1", True)]


def test_the_group_is_ready_when_every_child_is() -> None:
    ask = asker({"/s0/readyz": (200, "ready"), "/s1/readyz": (200, "ready")})
    assert readiness(answers(CHILDREN, "/readyz", ask)) == (True, "")


def test_the_group_is_not_ready_while_a_child_is_not_and_says_which_and_why() -> None:
    ask = asker({"/s0/readyz": (200, "ready"), "/s1/readyz": (503, "work: reconnecting")})
    assert readiness(answers(CHILDREN, "/readyz", ask)) == (
        False,
        "child 1 (pid 11): work: reconnecting",
    )
    down = [CHILDREN[0], Child("child 1 (pid 11)", "/s1", running=False)]
    ready, reason = readiness(answers(down, "/readyz", asker({"/s0/readyz": (200, "ready")})))
    assert not ready
    assert reason == "child 1 (pid 11): not running (restarting)"
    silent = asker({"/s0/readyz": (200, "ready"), "/s1/readyz": ConnectionRefusedError()})
    ready, reason = readiness(answers(CHILDREN, "/readyz", silent))
    assert not ready
    assert reason.startswith("child 1 (pid 11): no answer (ConnectionRefusedError")


def test_the_group_is_unhealthy_only_when_a_child_says_it_is() -> None:
    found = [
        Answer("child 0 (pid 10)", 200, "ok"),
        Answer("child 1 (pid 11)", None, "not running (restarting)"),
    ]
    assert liveness(found) == (
        True,
        "child 0 (pid 10): ok; child 1 (pid 11): not running (restarting)",
    )
    found.append(Answer("child 2 (pid 12)", 503, "2 tasks stuck"))
    assert liveness(found) == (False, "child 2 (pid 12): 2 tasks stuck")

"""``mqctl apply``'s plan and its text, without a broker: what it does with what it saw."""

from __future__ import annotations

from mqwire.runtime.ops.apply_plan import (
    UNKNOWN,
    Seen,
    Step,
    done_line,
    plan_steps,
    render_plan,
    summary_line,
)
from mqwire.runtime.ops.management_api import LiveBinding
from mqwire.topology.declarations import (
    BindingDeclaration,
    Declarations,
    ExchangeDeclaration,
    QueueDeclaration,
)

PLAN = Declarations(
    exchanges=(ExchangeDeclaration("shop"),),
    queues=(QueueDeclaration("orders"), QueueDeclaration("orders.dead"), QueueDeclaration("mail")),
    bindings=(BindingDeclaration("orders", "shop", "orders.#"),),
)

#: On the broker: the exchange, one queue held with other arguments, the topology's binding,
#: a stale one (a removed route), one on another application's exchange, the default one's.
LIVE = [
    LiveBinding("shop", "orders", "orders.#"),
    LiveBinding("shop", "mail", "mail.old", arguments={"x-match": "all"}),
    LiveBinding("billing", "invoices", "invoice.#"),
    LiveBinding("", "orders", "orders"),
]


def seen(bindings: list[LiveBinding] | None = LIVE) -> Seen:
    return Seen({"shop": ""}, {"orders": "", "mail": "inequivalent arg 'x-max-priority'"}, bindings)


def test_each_object_is_classified_by_what_the_broker_holds() -> None:
    steps = plan_steps(PLAN, seen(), prune=True)

    assert [(s.cls, s.kind, s.name) for s in steps] == [
        ("incompatible", "queue", "mail"),
        ("destructive", "binding", "shop -> mail [mail.old]"),
        ("additive", "queue", "orders.dead"),
        ("unchanged", "exchange", "shop"),
        ("unchanged", "queue", "orders"),
        ("unchanged", "binding", "shop -> orders [orders.#]"),
    ]
    assert steps[1].unbind == LIVE[1]  # with its arguments: an unbind must match them
    assert "inequivalent arg 'x-max-priority'" in steps[0].summary


def test_without_prune_a_stale_binding_is_kept_and_said() -> None:
    steps = plan_steps(PLAN, seen(), prune=False)

    (stale,) = [s for s in steps if "mail.old" in s.name]
    assert (stale.cls, stale.unbind) == ("other", None)
    assert "--prune removes it" in stale.summary


def test_without_the_management_api_bindings_are_declared_but_not_classified() -> None:
    steps = plan_steps(PLAN, seen(None), prune=False)

    bindings = [s for s in steps if s.kind == "binding"]
    assert [(s.cls, s.summary) for s in bindings] == [("other", UNKNOWN)]


def test_an_exclusive_queue_is_left_to_its_consumer() -> None:
    plan = Declarations(queues=(QueueDeclaration("mine", exclusive=True),))

    (step,) = plan_steps(plan, Seen({}, {}, []), prune=False)

    assert (step.cls, step.summary) == ("other", "exclusive: its consumer declares it")


def test_the_text_reads_like_mq_compile_diff() -> None:
    steps = plan_steps(PLAN, seen(), prune=True)

    text = render_plan("amqp://guest:***@rabbit:5672/%2F", steps, checked_extras=True)

    assert text == (
        "broker amqp://guest:***@rabbit:5672/%2F\n"
        "1 broker-incompatible, 1 destructive, 1 additive, 0 other, 3 unchanged\n"
        "\n"
        "broker-incompatible:\n"
        "  queue mail: exists with other arguments: inequivalent arg 'x-max-priority'\n"
        "\n"
        "destructive:\n"
        "  binding shop -> mail [mail.old]: not in the topology: to remove (--prune)\n"
        "\n"
        "additive:\n"
        "  queue orders.dead: new queue\n"
    )
    unchecked = render_plan("x", plan_steps(PLAN, seen(None), prune=False), checked_extras=False)
    assert unchecked.endswith("(the management API was not used)\n")


def test_what_was_done_counts_created_removed_and_kept() -> None:
    steps = [
        Step("additive", "exchange", "shop", "new topic exchange"),
        Step("additive", "queue", "a", "new queue"),
        Step("additive", "queue", "b", "new queue"),
        Step("destructive", "binding", "x", "not in the topology: to remove (--prune)"),
        Step("unchanged", "queue", "c", "already there"),
        Step("other", "binding", "y", UNKNOWN),
    ]

    assert done_line(steps) == (
        "created 1 exchange, 2 queues; removed 1 binding; "
        "declared 1 binding (new or not: unknown); 1 already there"
    )
    assert done_line([]) == "created nothing; 0 already there"
    assert (
        summary_line([]) == "0 broker-incompatible, 0 destructive, 0 additive, 0 other, 0 unchanged"
    )

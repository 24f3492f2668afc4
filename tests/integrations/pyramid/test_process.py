"""One publisher per name per process: a forked child builds its own; the process's publishers
are closed when it exits (atexit), after anything registered before the application."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

SCRIPT = """
    import atexit, os, sys

    seen = {}
    atexit.register(lambda: print("at exit:", seen["amqp"].connection_state.state))  # runs last

    from pyramid.config import Configurator
    from mqwire.pyramid import get_publisher
    from mqwire.runtime.errors import PublishError

    config = Configurator(settings={
        "local.mq": "mqwire.runtime.publisher.locally_dispatching_publisher_consumer_factory",
        "amqp.mq": "mqwire.runtime.publisher.pika_publisher_factory",
        "amqp.mq.url": sys.argv[1],
    })
    config.include("mqwire.pyramid")
    config.add_publisher_consumer("local", "local.mq")
    config.add_publisher_consumer("amqp", "amqp.mq")
    registry = config.make_wsgi_app().registry

    local = get_publisher(registry, "local")
    parent = local.current
    pid = os.fork()
    if pid == 0:  # a web server's worker process
        print("child builds its own:", local.current is not parent, flush=True)
        os._exit(0)
    os.waitpid(pid, 0)
    print("parent keeps its own:", local.current is parent)

    amqp = get_publisher(registry, "amqp")
    try:
        amqp.publish({}, "no-such-queue")  # opens the connection; unroutable
    except PublishError:
        pass
    seen["amqp"] = amqp.current
    print("before exit:", amqp.current.connection_state.state, flush=True)
"""


@pytest.mark.broker
def test_one_publisher_per_process_closed_at_exit(fresh_vhost_url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", textwrap.dedent(SCRIPT), fresh_vhost_url],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "child builds its own: True",
        "parent keeps its own: True",
        "before exit: connected",
        "at exit: closed",
    ]

"""``config.include("mqwire.pyramid")``: the directives, the publishers and ``mqwire.compiled``.

Each directive is a deferred, conflict-detecting Pyramid action: its discriminator is
``("mqwire.publisher_consumer", name)`` or ``("mqwire.task", name)``, so two of one name in one
configuration raise Pyramid's ``ConfigurationConflictError`` naming both places. Once every
action ran, one more action builds the mqwire registry (``PyramidWiring.registry()``), so a
wrong setting fails at start-up, not at the first publish.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from mqwire.runtime.errors import ConfigurationError
from mqwire.runtime.interfaces import Publisher
from mqwire.runtime.wiring.load import read_compiled
from mqwire.runtime.wiring.registry import Registry
from mqwire.topology.scan import import_path_of
from mqwire.topology.task_mark import TASK_MARK, TaskMark

from .interfaces import IPublisher, IWiring
from .wiring import ProcessPublisher, PyramidWiring

#: The setting naming a compiled INI whose publisher_consumers and tasks the app gets.
COMPILED_SETTING = "mqwire.compiled"
#: After every other action of a commit (Pyramid's phases run from -30 to 0).
_BUILD_ORDER = 10_000


def includeme(config: Any) -> None:
    """Add the directives ``add_publisher_consumer`` and ``add_mq_task``, the request method
    ``request.mq_publisher(name)``, and the publishers of ``mqwire.compiled`` if it is set."""
    wiring = config.registry.queryUtility(IWiring)
    if wiring is None:
        wiring = PyramidWiring(config.registry)
        config.registry.registerUtility(wiring, IWiring)
    config.add_directive("add_publisher_consumer", add_publisher_consumer, action_wrap=True)
    config.add_directive("add_mq_task", add_mq_task, action_wrap=True)
    config.add_request_method(get_publisher, "mq_publisher")
    # Tasks see this registry as request.registry; those written for a compiled INI call
    # request.registry.publisher(name), as on mqwire's own Registry (TaskRegistry).
    config.registry.publisher = functools.partial(get_publisher, config.registry)
    compiled = (config.registry.settings or {}).get(COMPILED_SETTING)
    if compiled:
        _add_compiled(config, wiring, compiled)


def add_publisher_consumer(config: Any, name: str, settings_prefix: str) -> None:
    """Add publisher_consumer ``name``, read from the settings ``settings_prefix`` (factories),
    ``settings_prefix.url``, ``.routes``, ``.continue_on_exception``... with ``${VAR}``
    placeholders resolved as ``load()`` does; its publisher becomes the utility
    ``IPublisher`` named ``name``."""
    wiring = _wiring(config)

    def register() -> None:
        wiring.publisher_consumers[name] = settings_prefix
        wiring.changed()
        config.registry.registerUtility(ProcessPublisher(wiring, name), IPublisher, name=name)

    config.action(("mqwire.publisher_consumer", name), register)
    _build_after(config, wiring)


def add_mq_task(
    config: Any,
    function: Callable[..., Any],
    *,
    queue: str | None = None,
    name: str | None = None,
    root_factory: Callable[..., Any] | None = None,
    timeout: float | None = None,
    consumer: str | None = None,
) -> None:
    """Add task ``function``: what ``config.scan()`` does for each ``@task_config`` function.
    The keywords override (or, on an unmarked function, give) what ``@task_config`` says."""
    from mqwire.runtime.dispatch import TaskEntry

    mark = getattr(function, TASK_MARK, None)
    if not isinstance(mark, TaskMark):
        mark = TaskMark(name=function.__name__, queue=queue or "")
    entry = TaskEntry(
        name=name or mark.name,
        function=function,
        queue=queue or mark.queue,
        publisher_consumer=consumer or mark.consumer,
        root_factory=root_factory or mark.root_factory,
        timeout=timeout if timeout is not None else mark.timeout,
        path=import_path_of(function) or repr(function),
    )
    if not entry.queue:
        raise ConfigurationError(f"add_mq_task({entry.path}) needs queue= (or @task_config)")
    wiring = _wiring(config)

    def register() -> None:
        wiring.tasks.append((entry, entry.path))
        wiring.changed()

    config.action(("mqwire.task", entry.name), register)
    _build_after(config, wiring)


def _add_compiled(config: Any, wiring: PyramidWiring, path: str) -> None:
    """Every publisher_consumer and task of the compiled INI at ``path``, as actions."""
    compiled = read_compiled(path)

    def use() -> None:
        wiring.compiled = compiled
        wiring.changed()

    config.action(("mqwire.compiled",), use)
    for name in compiled.publisher_consumers:
        config.action(
            ("mqwire.publisher_consumer", name),
            config.registry.registerUtility,
            args=(ProcessPublisher(wiring, name), IPublisher),
            kw={"name": name},
        )
    for entry, _ in compiled.tasks:
        config.action(("mqwire.task", entry.name), None)  # its conflicts; compiled adds it
    _build_after(config, wiring)


def _build_after(config: Any, wiring: PyramidWiring) -> None:
    config.action(None, wiring.registry, order=_BUILD_ORDER)


def _wiring(config: Any) -> PyramidWiring:
    wiring = config.registry.queryUtility(IWiring)
    if wiring is None:
        raise ConfigurationError('config.include("mqwire.pyramid") first')
    return wiring  # type: ignore[no-any-return]


def get_publisher(request: Any, name: str) -> Publisher:
    """The publisher of publisher_consumer ``name`` for this process (the ``IPublisher``
    utility); ``request`` is a Pyramid request, a task's request or a Pyramid registry.
    Also ``request.mq_publisher(name)``. A task run from a compiled INI without Pyramid
    (``request.registry`` an mqwire ``Registry``) gets ``registry.publisher(name)``.

    Raises:
        ConfigurationError: no such publisher_consumer, listing the known names.
    """
    registry = getattr(request, "registry", request)
    if isinstance(registry, Registry):
        return registry.publisher(name)
    publisher = registry.queryUtility(IPublisher, name=name)
    if publisher is None:
        known = ", ".join(sorted(repr(n) for n, _ in registry.getUtilitiesFor(IPublisher)))
        raise ConfigurationError(f"unknown publisher {name!r}; known: {known or 'none'}")
    return publisher  # type: ignore[no-any-return]


def get_registry(request: Any) -> Registry:
    """The mqwire ``Registry`` of this process (its ``local_broker``, ``metrics``, tasks)."""
    registry = getattr(request, "registry", request)
    wiring = registry.queryUtility(IWiring)
    if wiring is None:
        raise ConfigurationError('the application did not config.include("mqwire.pyramid")')
    return wiring.registry()  # type: ignore[no-any-return]

"""The logging options ``mserve`` and ``mqctl`` share, and setting logging up from them.

``--log-config FILE`` hands logging to the file entirely (``config_file``); without it each
command keeps its own defaults (``Defaults``), in text or, with ``--log-format json``, as
one JSON object a line (``JsonFormatter``). The two ways do not mix: a file decides levels
and format itself, so ``--log-level`` or ``--log-format`` beside it is a usage error.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from typing import NamedTuple

from .json_format import JsonFormatter

#: The text format (the one mserve always had).
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: A level above every record: the logger's records are never shown.
QUIET = logging.CRITICAL + 1


class Defaults(NamedTuple):
    """How a command logs without ``--log-config``.

    ``configure_text``: set up a text handler (mserve), or leave logging as Python starts it
    (mqctl: its own output is printed; mqwire's warnings reach stderr through Python's
    last-resort handler, pika's records nowhere) unless ``--log-format json`` is given.
    ``pika_level``: pika's DEBUG output shows message bodies, and its connection errors
    repeat what mqwire says about them.
    """

    level: int
    pika_level: int
    configure_text: bool


MSERVE = Defaults(logging.INFO, logging.WARNING, configure_text=True)
MQCTL = Defaults(logging.WARNING, QUIET, configure_text=False)


def add_options(
    parser: argparse.ArgumentParser, defaults: Defaults, *, levels: Sequence[str] = ()
) -> None:
    """``--log-config``, ``--log-format`` and, when ``levels`` are given, ``--log-level``."""
    group = parser.add_argument_group("logging")
    group.add_argument(
        "--log-config", metavar="FILE",
        help="configure logging from this logging.config file alone: .ini/.cfg/.conf "
        "(fileConfig), .json/.yaml/.yml (dictConfig)",
    )  # fmt: skip
    group.add_argument(
        "--log-format", choices=("text", "json"),
        help="text (default) or json: one JSON object a line (time, level, logger, message, "
        "extra fields, exception)",
    )  # fmt: skip
    if levels:
        default = logging.getLevelName(defaults.level)
        text = f"the lowest level shown (default {default})"
        group.add_argument("--log-level", choices=levels, help=text)


def log_options_given(args: argparse.Namespace) -> bool:
    """Whether the command line says how to log: then it decides, over any other source."""
    return any((args.log_config, getattr(args, "log_level", None), args.log_format))


def setup_logging(
    parser: argparse.ArgumentParser, args: argparse.Namespace, defaults: Defaults
) -> None:
    """Configure logging from the options ``add_options`` gave ``parser``.

    Raises:
        SystemExit: ``--log-config`` with ``--log-level`` or ``--log-format`` (usage, exit 2).
        LogConfigError: the file cannot be read, has mistakes, or was refused.
    """
    level_name = getattr(args, "log_level", None)
    if args.log_config is not None:
        options = (("--log-level", level_name), ("--log-format", args.log_format))
        given = [option for option, value in options if value]
        if given:
            parser.error(
                f"--log-config sets levels and format itself: leave out {' and '.join(given)} "
                "(for JSON lines, use mqwire.runtime.logs.JsonFormatter in the file)"
            )
        from .config_file import read_log_config  # PyYAML and configparser only when asked

        read_log_config(args.log_config).apply()
        return
    level = logging.getLevelNamesMapping()[level_name] if level_name else defaults.level
    handler = logging.StreamHandler()  # stderr: stdout is the commands' own output
    if args.log_format == "json":
        handler.setFormatter(JsonFormatter())
    elif defaults.configure_text or level_name:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    else:
        return
    logging.basicConfig(level=level, handlers=[handler])
    logging.getLogger("pika").setLevel(defaults.pika_level)

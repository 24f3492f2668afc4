"""The one Jinja2 environment of the compiler: strict, byte-stable, layout only."""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined


@cache
def make_environment() -> Environment:
    """Strict undefined names, trailing newline kept, no HTML escaping (we render INI and Python).

    Templates receive only strings and lists of strings prepared by ``context.py``; any
    quoting or escaping happens there, where it is tested, never in a template.
    """
    return Environment(
        loader=PackageLoader("mqwire.compiler", "templates"),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )

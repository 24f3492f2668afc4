"""The interfaces mqwire registers in a Pyramid application's registry."""

from __future__ import annotations

from zope.interface import Interface


class IPublisher(Interface):  # type: ignore[misc]  # zope.interface ships no type hints
    """A publisher_consumer's publisher, one utility per name:
    ``request.registry.getUtility(IPublisher, name="cart")``."""


class IWiring(Interface):  # type: ignore[misc]
    """The application's ``PyramidWiring``: what its configuration added, and the mqwire
    ``Registry`` built from it once per process (what ``mserve development.ini`` serves)."""

"""Building a registry: from a compiled INI (``load``) or by hand (``Configurator``)."""

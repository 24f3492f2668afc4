"""A small ticketing application wired to workers with mqwire (the example)."""

"""mqwire.topology."""

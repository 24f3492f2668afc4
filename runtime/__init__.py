"""mqwire.runtime."""

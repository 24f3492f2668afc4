"""mqwire.schemas."""

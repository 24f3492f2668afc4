"""mqwire.compiler."""

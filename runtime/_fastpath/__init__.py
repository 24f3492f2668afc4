"""Every use of another library's private internals, and nothing else.

Each trick here is switchable (``MQWIRE_FASTPATH``) and gated to the versions it was tested
with; see docs/fastpath.md.
"""

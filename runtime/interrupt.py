"""Raising an exception inside another thread: CPython's ``PyThreadState_SetAsyncExc``.

The only way to stop a plain task's Python code from outside its thread, the one Dramatiq's
``TimeLimit`` middleware uses. It is CPython's C API, called through ``ctypes``; every use of
it is in this module, used by the worker's thread pool and the local transport (both stop a
task past its ``timeout:`` with it). ``mserve --no-interrupt`` (or another interpreter) turns
it off, so an overrunning thread is then only abandoned.

The exception is raised when the thread next runs Python bytecode: a pure-Python loop stops
within a few instructions, a call blocked in C (a lock, ``select``, ``recv``, ``time.sleep``)
only once that call returns. A thread that ignores the exception, or stays blocked, is the
caller's to abandon.
"""

from __future__ import annotations

import sys


def _set_async_exc(ident: int, exc: type[BaseException] | None) -> int:
    import ctypes  # on the first overrun only: a worker whose tasks keep time never loads it

    # No argtypes on the shared ``pythonapi`` function: a bare None is passed as NULL, which
    # clears a pending exception (a ``py_object(None)`` would pass Py_None instead).
    arg = ctypes.py_object(exc) if exc is not None else None
    return int(ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), arg))


class ThreadInterrupt:
    """Raises an exception in another thread, and takes it back if it is still pending."""

    def raise_in(self, ident: int, exc: type[BaseException]) -> bool:
        """Make ``exc`` pending in the thread ``ident``; False when no such thread exists."""
        changed = _set_async_exc(ident, exc)
        if changed > 1:  # cannot happen for one ident, but the C API says: undo it then
            _set_async_exc(ident, None)
            return False
        return changed == 1

    def clear(self, ident: int) -> None:
        """Drop an exception made pending in thread ``ident`` that has not been raised yet."""
        _set_async_exc(ident, None)


def thread_interrupt(enabled: bool = True) -> ThreadInterrupt | None:
    """The interrupter when asked for and the interpreter is CPython, else None."""
    if not enabled or sys.implementation.name != "cpython":
        return None
    return ThreadInterrupt()

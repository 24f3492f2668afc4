"""The compiler: a validated topology in, generated INI settings and a task registry out."""

from __future__ import annotations

from .compile import CompiledOutput, CompileOptions, CompilerError, compile_topology
from .output import WriteMode

__all__ = ["CompileOptions", "CompiledOutput", "CompilerError", "WriteMode", "compile_topology"]

"""The compiler: a validated topology in, generated INI settings and a task registry out."""

from __future__ import annotations

from .compile import CompiledOutput, CompileOptions, compile_topology
from .errors import CompilerError
from .output import WriteMode

__all__ = ["CompileOptions", "CompiledOutput", "CompilerError", "WriteMode", "compile_topology"]

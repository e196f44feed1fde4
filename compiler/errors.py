"""Every user-facing failure is a CompileError; anything else escaping the CLI is a bug.

Messages name the node and op where there is one, and say what is supported:
    node 'conv1' (Conv): group=2 is not supported (supported: 1, depthwise)
"""
from __future__ import annotations


class CompileError(Exception):
    """A problem with the user's input; the CLI prints it without a traceback and exits 2.
    The message is one line: text from the model (an attribute value, a name) that holds
    characters that do not print shows them escaped, as \\n, \\x00 or \\u2028."""

    def __init__(self, message: str = ""):
        text = str(message)
        if not text.isprintable():   # control characters, line and paragraph separators
            text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
        super().__init__(text)


class ModelError(CompileError):
    """The model file is unreadable, malformed or inconsistent."""


class UnsupportedError(CompileError):
    """The model is valid but uses an op, attribute or format the compiler does not support."""


class TargetError(CompileError):
    """The board/target description is unknown or malformed."""


class DataError(CompileError):
    """Calibration or verification data does not fit the model."""


class OutputError(CompileError):
    """The output folder cannot be written (exists without --force, not a design, ...)."""


class ToolchainError(CompileError):
    """g++ or the ap_types headers needed for C simulation are missing or failed."""


class InfeasibleError(CompileError):
    """A performance or resource request cannot be met; the message names the wall."""


class ModelWarning(UserWarning):
    """Something about the model worth a line on stderr that does not stop the compile
    (the CLI prints it as `qcompile: warning: ...`)."""


def first_line(e: BaseException) -> str:
    """The first non-empty line of an exception's message (a library's, for quoting in one
    of ours), shortened; the exception's type when it has no message."""
    text = next((s.strip() for s in str(e).splitlines() if s.strip()), type(e).__name__)
    return text if len(text) <= 300 else text[:297] + "..."


def at_node(name: str, op: str, message: str, kind: type[CompileError] = UnsupportedError) -> CompileError:
    """An error about one node, in the house format."""
    return kind(f"node {name!r} ({op}): {message}")

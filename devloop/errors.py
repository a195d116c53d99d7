"""The one exception the tasks turn into a clear one-line error, and the decorator that does it."""

import functools
import os
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from invoke import Exit

P = ParamSpec("P")
R = TypeVar("R")
SIGPIPE_EXIT = 141  # what a shell reports for a program whose reader went away


class DevloopError(Exception):
    """A failure the user can act on; its message is one line that says what to do."""


def one_line_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn a DevloopError, an engine error or Ctrl-C raised by a task into a one-line error and exit 1."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except DevloopError as exc:
            raise Exit(f"error: {exc}") from None
        except BrokenPipeError:
            # `invoke status | head -1`: the reader left; say nothing more, not even at exit.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise Exit(code=SIGPIPE_EXIT) from None
        except KeyboardInterrupt:
            raise Exit("interrupted", code=130) from None
        except Exception as exc:
            if type(exc).__module__.split(".")[0] not in ("docker", "requests", "urllib3"):
                raise
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise Exit(f"error: the Docker engine: {first_line}") from None

    return wrapper

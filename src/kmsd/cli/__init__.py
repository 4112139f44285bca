"""The ``kmsd`` command: ``serve``, ``accounts``, the offline ``policy`` tools, ``authz explain`` and ``store``.

:mod:`kmsd.cli.parser` declares the commands; each command runs in its own
module here (``serve``, ``accounts``, ``policy``, ``authz``, ``store``).  Errors a user
can cause (a bad account id, an unreachable store, a busy port) print one
line to stderr and exit non-zero; nothing here prints a traceback or a secret
other than the credentials it was asked to create, and output piped into a
command that stops reading early (``| head``) ends quietly.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from kmsd.cli.config_file import parse_with_config
from kmsd.cli.parser import build_parser
from kmsd.crypto.root_key import RootKeyError
from kmsd.errors import AwsError
from kmsd.store.base import StoreError

__all__ = ["build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    try:
        # Inside the try: --help piped into head can meet a closed pipe too.
        # kmsd serve --config FILE: the file's values are the defaults the command line overrides.
        args = parse_with_config(build_parser(), argv)
        code = int(args.handler(args))
        sys.stdout.flush()
        return code
    except (StoreError, AwsError, RootKeyError) as error:
        # RootKeyError: a missing, unreadable or wrong root key (not the store's own) is refused in one line.
        message = error.message if isinstance(error, AwsError) else str(error)
        print(f"kmsd: {message}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # Python's documentation ("Note on SIGPIPE"): point stdout at devnull so the interpreter's final flush
        # does not raise again, and exit 1 as Python itself does on EPIPE.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

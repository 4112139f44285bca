"""``kmsd serve --config FILE``: the options of ``kmsd serve`` read from a TOML file, the command line winning.

The keys a file may hold are the options of the ``serve`` parser itself, so an option added there is
configurable at once, with no second list to keep: ``port = 4599`` is ``--port 4599``, and a key may be
spelled with ``-`` or ``_`` (``log-format``, ``log_format``).  Each value is checked the way the command
line would check it (the option's ``type`` and ``choices``); a switch (``dev = true``) takes a boolean, a
string option a string, a number option a number or a string, and an option whose values are a comma list
(``--regions``) also a TOML array of strings.  The file's values become the parser's defaults and the
command line is parsed again, so an option given there overrides the file; a switch the file turns on
cannot be turned off from the command line (there is no ``--no-...``).

An unknown key, a value of the wrong type or one the option refuses ends the command with one line naming
the key and exit status 2, as argparse does for a bad option.
"""

from __future__ import annotations

import argparse
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# Options that make no sense in the file that --config names.
_NOT_IN_FILE = frozenset({"--config", "--help"})


class ConfigError(Exception):
    """The file cannot be used; the message names the key (or says why the file cannot be read)."""


def serve_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The ``serve`` subparser of the ``kmsd`` parser."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices["serve"]  # type: ignore[no-any-return]
    raise LookupError("the kmsd parser has no serve command")


def parse_with_config(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """``parser.parse_args(argv)``, with a ``serve --config FILE``'s values as the serve options' defaults."""
    args = parser.parse_args(argv)
    path = getattr(args, "config", None)
    if args.command != "serve" or path is None:
        return args
    serve = serve_parser(parser)
    try:
        defaults = read_config(Path(path), serve)
    except ConfigError as error:
        serve.exit(2, f"{serve.prog}: error: --config {path}: {error}\n")
    serve.set_defaults(**defaults)
    return parser.parse_args(argv)


def read_config(path: Path, serve: argparse.ArgumentParser) -> dict[str, Any]:
    """The file's values by option destination, each checked as the command line would check it."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(error.strerror or str(error)) from None
    except UnicodeDecodeError:
        raise ConfigError("not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"not TOML: {error}") from None
    options = {
        option: action
        for action in serve._actions
        for option in action.option_strings
        if option.startswith("--") and option not in _NOT_IN_FILE
    }
    values: dict[str, Any] = {}
    seen: dict[str, str] = {}
    for key, value in document.items():
        option = "--" + key.replace("_", "-")
        action = options.get(option)
        if action is None:
            raise ConfigError(f"unknown key '{key}' (kmsd serve has no option {option})")
        if action.dest in seen:
            raise ConfigError(f"key '{key}' repeats '{seen[action.dest]}'")
        seen[action.dest] = key
        values[action.dest] = _value(key, value, action)
    return values


def _value(key: str, value: object, action: argparse.Action) -> Any:
    """``value`` as the option's own parsing would give it, or ConfigError naming ``key``."""
    if action.nargs == 0:
        # A switch (store_true): on or off.
        if not isinstance(value, bool):
            raise ConfigError(f"key '{key}' takes true or false, not {_kind(value)}")
        return value
    if isinstance(value, list) and str(action.metavar or "").endswith(",..."):
        if not all(isinstance(item, str) for item in value):
            raise ConfigError(f"key '{key}' takes a list of strings")
        value = ",".join(value)
    if isinstance(value, bool) or not isinstance(value, str | int):
        expected = "a string" if action.type is None else "a string or a number"
        raise ConfigError(f"key '{key}' takes {expected}, not {_kind(value)}")
    if isinstance(value, int) and action.type is None:
        raise ConfigError(f"key '{key}' takes a string, not a number")
    text = str(value)
    try:
        converted = action.type(text) if callable(action.type) else text
    except argparse.ArgumentTypeError as error:
        raise ConfigError(f"key '{key}': {error} (got {text!r})") from None
    except (ValueError, TypeError):
        # As argparse words it: "invalid int value: 'many'".
        raise ConfigError(f"key '{key}': invalid {getattr(action.type, '__name__', 'value')} value: {text!r}") from None
    if action.choices is not None and converted not in action.choices:
        choices = ", ".join(repr(choice) for choice in action.choices)
        raise ConfigError(f"key '{key}': {text!r} is not one of {choices}")
    return converted


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, str):
        return "a string"
    return "a date or time" if value is not None else "nothing"

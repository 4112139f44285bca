"""kmsd's ASGI app built for granian, so the benchmark can compare server stacks.

granian imports an app instead of being started by ``kmsd serve``, so this
module builds the same app from the same parts with ``kmsd.server``'s own
functions and ``kmsd serve``'s default options; only the server that runs it
differs.  ``bench/run.py`` starts it as
``granian --interface asgi --factory granian_app:create_app`` with the store
URL in ``KMSD_BENCH_STORE``.  :func:`build_app` also builds ``stage_app.py``'s
cut of the app the same way.
"""

from __future__ import annotations

import os
from typing import TypeVar

from kmsd.api.app import KmsdApp
from kmsd.server import RequestOptions, announce_default_account, open_parts
from kmsd.server import build_app as build_served_app

STORE_ENV = "KMSD_BENCH_STORE"

App = TypeVar("App", bound=KmsdApp)


def create_app() -> KmsdApp:
    return build_app(KmsdApp)


def build_app(app_class: type[App]) -> App:
    """``app_class`` (KmsdApp or a benchmark's cut of it) over the store named by ``KMSD_BENCH_STORE``, with
    ``kmsd serve``'s default options (the audit trail and the metrics included)."""
    parts = open_parts(os.environ[STORE_ENV])
    first_start = parts.accounts.initialise_default()
    if first_start is not None:
        announce_default_account(first_start)
    app = build_served_app(parts, False, RequestOptions(), None, app_class=app_class)
    assert isinstance(app, app_class)
    return app

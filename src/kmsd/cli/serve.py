"""``kmsd serve``: the server options turned into :class:`kmsd.server.RequestOptions`, then run.

The composition itself (store, root key, services, uvicorn) is
:mod:`kmsd.server`'s; this module only maps the command line onto it.
"""

from __future__ import annotations

import argparse


def run_serve(args: argparse.Namespace) -> int:
    # Imported here: the server stack (uvicorn, the app) is only needed by this command.
    from kmsd.server import RequestOptions, serve

    options = RequestOptions(
        explain_denials=args.explain_denials,
        trusted_proxy_header=args.trusted_proxy_header,
        trusted_service_header=args.trusted_service_header,
        trusted_proxy_hops=args.trusted_proxy_hops,
        regions=tuple(args.regions) if args.regions is not None else None,
    )
    serve(args.host, args.port, args.store, dev=args.dev, options=options)
    return 0

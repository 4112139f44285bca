"""``kmsd serve``: the server options turned into :class:`kmsd.server.RequestOptions`, then run.

The composition itself (store, root key, services, uvicorn) is
:mod:`kmsd.server`'s; this module only maps the command line onto it.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from kmsd.audit.file_sink import open_for_append
from kmsd.crypto.attestation import AttestationError, TrustRoot


def run_serve(args: argparse.Namespace) -> int:
    """Serve until stopped; 1 with one line on stderr when the address cannot be bound."""
    # Imported here: the server stack (uvicorn, the app) is only needed by this command, and the offline
    # tools (kmsd policy ...) must work without it.
    from kmsd.server import ListenError, OptionError, RequestOptions, read_metrics_token, serve

    options = RequestOptions(
        explain_denials=args.explain_denials,
        trusted_proxy_header=args.trusted_proxy_header,
        trusted_service_header=args.trusted_service_header,
        trusted_proxy_hops=args.trusted_proxy_hops,
        regions=tuple(args.regions) if args.regions is not None else None,
        pkcs11_module=args.pkcs11_module,
        audit_retention_days=args.audit_retention_days,
        audit_file=args.audit_file,
        metrics=args.metrics == "on",
        metrics_token_file=args.metrics_token_file,
        log_format=args.log_format,
        log_level=args.log_level,
    )
    if args.audit_file is not None:
        # Refused here, in one line, rather than by a traceback from the server (or from each worker).
        try:
            os.close(open_for_append(Path(args.audit_file)))
        except OSError as error:
            print(f"kmsd: --audit-file {args.audit_file}: {error.strerror}", file=sys.stderr)
            return 1
    if args.metrics_token_file is not None:
        try:
            # Read here to refuse an unreadable file in one line before serving; each worker reads it again.
            read_metrics_token(args.metrics_token_file)
        except OptionError as error:
            print(f"kmsd: {error}", file=sys.stderr)
            return 1
    attestation_root = None
    if args.attestation_root is not None:
        try:
            attestation_root = TrustRoot.from_pem(Path(args.attestation_root).read_bytes())
        except (OSError, AttestationError) as error:
            reason = error.strerror if isinstance(error, OSError) else str(error)
            print(f"kmsd: --attestation-root {args.attestation_root}: {reason}", file=sys.stderr)
            return 1
    try:
        if args.workers > 1:
            # Imported here for the same reason as kmsd.server.
            from kmsd.workers import serve_workers

            serve_workers(
                args.host,
                args.port,
                args.store,
                workers=args.workers,
                dev=args.dev,
                options=options,
                attestation_root=attestation_root,
            )
        else:
            serve(args.host, args.port, args.store, dev=args.dev, options=options, attestation_root=attestation_root)
    except ListenError as error:
        print(f"kmsd: {error}", file=sys.stderr)
        return 1
    return 0

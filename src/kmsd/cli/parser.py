"""The ``kmsd`` command line: every command, option, its help and its default, in one parser.

Each option's help ends with its default, because a user reading ``--help``
should not have to guess what happens without it; a test walks this parser
and holds every option to that.  The parser only parses: each command's
``handler`` (set with ``set_defaults``) runs it, in the modules beside this one
and in :mod:`kmsd.policy.commands`.
"""

from __future__ import annotations

import argparse
import os

from kmsd.api.request_log import LOG_FORMATS, LOG_LEVELS
from kmsd.cli.accounts import run_create, run_credentials, run_list
from kmsd.cli.audit import parse_time, run_audit_query, run_audit_verify
from kmsd.cli.authz import run_authz_explain
from kmsd.cli.policy import run_check, run_console_default, run_explain
from kmsd.cli.serve import run_serve
from kmsd.cli.store import run_store_check, run_store_copy, run_store_migrate
from kmsd.crypto.key_spec import KEY_SPECS
from kmsd.policy.commands import CHECK_KINDS, KEY_RESOURCE_TYPE, LIMITS, UNSUPPORTED_KINDS

DEFAULT_STORE_URL = "sqlite:///./.kmsd/kmsd.db"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kmsd", description="A self-hosted AWS KMS-compatible key service.")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_serve(commands)
    _add_accounts(commands)
    _add_policy(commands)
    _add_authz(commands)
    _add_store(commands)
    _add_audit(commands)
    return parser


def _add_store_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        default=DEFAULT_STORE_URL,
        help="sqlite:///path/to/kmsd.db or postgresql://user@host:port/db (default: %(default)s)",
    )


def _add_json_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--json", action="store_true", help=f"print {what} as one JSON object (default: text)")


def _add_serve(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser("serve", help="run the server")
    serve.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: %(default)s)")
    serve.add_argument("--port", type=int, default=4599, help="the TCP port to listen on (default: %(default)s)")
    serve.add_argument(
        "--workers",
        metavar="N",
        type=_workers,
        default=1,
        help="serve from N processes on the one port, or 'auto' for one per core; every worker sees every "
        "other worker's acknowledged writes on its next request (default: %(default)s)",
    )
    serve.add_argument(
        "--dev",
        action="store_true",
        help="also accept the development credentials: access key id 'test' or any 12-digit account id (default: off)",
    )
    serve.add_argument(
        "--explain-denials",
        action="store_true",
        help="explain each AccessDenied decision: a summary in the x-kmsd-explanation response header and the "
        "trace in the JSON body (member kmsdExplanation), for callers in the account that owns the key; other "
        "accounts get AWS's plain message (default: off)",
    )
    serve.add_argument(
        "--trusted-proxy-header",
        metavar="HEADER",
        help="take aws:SourceIp from this header (e.g. X-Forwarded-For) set by trusted proxies: all its lines are "
        "joined in order and the address is read from the right, past --trusted-proxy-hops "
        "(default: none, aws:SourceIp is the TCP peer)",
    )
    serve.add_argument(
        "--trusted-proxy-hops",
        metavar="N",
        type=_positive_int,
        default=1,
        help="how many trusted proxies append to --trusted-proxy-header; aws:SourceIp is the N-th address "
        "from the right (default: %(default)s, the address the nearest proxy appended)",
    )
    serve.add_argument(
        "--trusted-service-header",
        metavar="HEADER",
        help="take kms:ViaService (e.g. ec2.us-east-1.amazonaws.com) from this header set by a trusted front end; "
        "a request with the header repeated or listing several values is refused (ValidationException) "
        "(default: none, kms:ViaService is absent)",
    )
    serve.add_argument(
        "--regions",
        metavar="REGION,...",
        type=_region_list,
        help="accept requests signed only for these regions (e.g. us-east-1,eu-west-1) "
        "(default: any AWS region name, by AWS's partition patterns)",
    )
    serve.add_argument(
        "--audit-retention-days",
        metavar="DAYS",
        type=_positive_int,
        default=90,
        help="delete audit events older than this many days, as CloudTrail's event history keeps 90; the hash "
        "chain stays verifiable (default: %(default)s)",
    )
    serve.add_argument(
        "--pkcs11-module",
        metavar="PATH",
        help="the PKCS#11 library whose tokens back AWS_CLOUDHSM custom key stores, e.g. "
        "/usr/lib/softhsm/libsofthsm2.so; CloudHsmClusterId names a token by its label "
        "(default: none, custom key stores cannot be created or connected)",
    )
    serve.add_argument(
        "--attestation-root",
        metavar="PEM_FILE",
        help="the root certificate (PEM, EC P-384 CA) that the attestation documents of Recipient (AWS Nitro "
        "Enclaves) must chain to, for documents signed without Nitro hardware "
        "(default: AWS's public Nitro Enclaves root certificate, built in)",
    )
    serve.add_argument(
        "--audit-file",
        metavar="PATH",
        help="also append every audit event to PATH as JSON lines, one CloudTrail record per line (created 0600 "
        "if missing); a call that changes something is written and fsync'ed before its answer (default: none)",
    )
    serve.add_argument(
        "--metrics",
        choices=["on", "off"],
        default="on",
        help="serve Prometheus metrics at /metrics on the same port; they hold counts by operation, outcome and "
        "cache, no secret and no account, principal or key identifier (default: %(default)s)",
    )
    serve.add_argument(
        "--metrics-token-file",
        metavar="FILE",
        help="require 'Authorization: Bearer TOKEN' on /metrics, TOKEN being this file's content "
        "(default: none, /metrics is open like /health)",
    )
    serve.add_argument(
        "--log-format",
        choices=list(LOG_FORMATS),
        default="text",
        help="the format of every log line on stderr: one JSON object per line, or text (default: %(default)s)",
    )
    serve.add_argument(
        "--log-level",
        choices=list(LOG_LEVELS),
        default="warning",
        help="write log lines from this level up; info adds one line per request (request id, operation, status, "
        "caller, latency, never a parameter) (default: %(default)s)",
    )
    serve.add_argument(
        "--config",
        metavar="FILE",
        help="read these options from a TOML file, keys named like the options without their dashes "
        '(port = 4599, log_format = "json"); options given on the command line win (default: none)',
    )
    _add_store_option(serve)
    serve.set_defaults(handler=run_serve)


def _add_accounts(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    accounts = commands.add_parser("accounts", help="manage accounts and their root users' credentials")
    account_commands = accounts.add_subparsers(dest="accounts_command", required=True)

    create = account_commands.add_parser("create", help="create an account and print its root access key")
    create.add_argument("account_id", metavar="ACCOUNT", help="the new account's 12-digit id")
    _add_json_option(create, "the credentials")
    _add_store_option(create)
    create.set_defaults(handler=run_create)

    listing = account_commands.add_parser("list", help="list the accounts")
    _add_store_option(listing)
    listing.set_defaults(handler=run_list)

    credentials = account_commands.add_parser(
        "credentials",
        help="list an account's root access keys, or replace them (works offline, and while a server runs)",
    )
    credentials.add_argument("account_id", metavar="ACCOUNT", help="the account's 12-digit id")
    credentials.add_argument(
        "--rotate",
        action="store_true",
        help="create a new root access key, print it with its secret, and delete the old ones "
        "(default: off, list the access key ids without secrets)",
    )
    _add_json_option(credentials, "the keys")
    _add_store_option(credentials)
    credentials.set_defaults(handler=run_credentials)


def _add_policy(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    policy = commands.add_parser("policy", help="check and explain IAM policy documents offline")
    policy_commands = policy.add_subparsers(dest="policy_command", required=True)

    _add_policy_check(policy_commands)

    explain = policy_commands.add_parser("explain", help="decide one request against policy files and explain it")
    explain.add_argument("--action", required=True, help="e.g. kms:Encrypt (required)")
    explain.add_argument("--resource", required=True, help="the resource ARN, or * (required)")
    explain.add_argument(
        "--principal",
        required=True,
        help="the caller: a user, role, root or assumed-role ARN, an account id, a service or * (required)",
    )
    explain.add_argument(
        "--policy",
        action="append",
        default=[],
        metavar="FILE",
        help="an identity-based policy; repeat for several (default: none)",
    )
    explain.add_argument("--resource-policy", metavar="FILE", help="the resource-based (key) policy (default: none)")
    explain.add_argument(
        "--resource-account",
        metavar="ACCOUNT",
        help="the account that owns the resource, where its ARN names none (default: the ARN's, else the caller's)",
    )
    explain.add_argument("--boundary", metavar="FILE", help="the permissions boundary (default: none)")
    explain.add_argument("--session-policy", metavar="FILE", help="the session policy (default: none)")
    explain.add_argument(
        "--context",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a condition key; repeat a key to make it multivalued (default: only the keys derived from --principal)",
    )
    _add_json_option(explain, "the decision")
    explain.set_defaults(handler=run_explain)
    _add_console_default(policy_commands)


def _add_console_default(policy_commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    console = policy_commands.add_parser(
        "console-default",
        help="print the key policy AWS's KMS console writes for a new key, for CreateKey --policy",
    )
    console.add_argument("--account", required=True, metavar="ACCOUNT", help="the key's 12-digit account id (required)")
    console.add_argument(
        "--key-spec",
        choices=sorted(KEY_SPECS),
        default="SYMMETRIC_DEFAULT",
        metavar="SPEC",
        help="the key spec, e.g. RSA_2048 or HMAC_256 (default: %(default)s)",
    )
    console.add_argument(
        "--key-usage",
        choices=sorted({usage for spec in KEY_SPECS.values() for usage in spec.key_usages}),
        metavar="USAGE",
        help="ENCRYPT_DECRYPT, SIGN_VERIFY, GENERATE_VERIFY_MAC, KEY_AGREEMENT or ENCAPSULATE_DECAPSULATE "
        "(default: the spec's only usage; required for RSA, NIST ECC and SM2 specs)",
    )
    console.add_argument(
        "--admin",
        action="append",
        default=[],
        metavar="ARN",
        help="a key administrator: an IAM user or role ARN; repeat for several (default: none)",
    )
    console.add_argument(
        "--user",
        action="append",
        default=[],
        metavar="ARN",
        help="a key user: an IAM user or role ARN, or another account's 12-digit id; repeat for several "
        "(default: none)",
    )
    console.add_argument(
        "--no-admin-deletion",
        action="store_true",
        help="leave kms:ScheduleKeyDeletion and kms:CancelKeyDeletion out of the administrators' actions "
        "(default: administrators may delete the key)",
    )
    console.add_argument(
        "--multi-region",
        action="store_true",
        help="a multi-Region key: administrators also get kms:ReplicateKey and kms:UpdatePrimaryRegion "
        "(default: single-Region)",
    )
    console.add_argument(
        "--origin",
        choices=["AWS_KMS", "EXTERNAL"],
        default="AWS_KMS",
        help="EXTERNAL for a key created without key material: administrators also get kms:ImportKeyMaterial "
        "(default: %(default)s)",
    )
    console.set_defaults(handler=run_console_default)


def _add_authz(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    authz = commands.add_parser("authz", help="the KMS authorizer, offline")
    authz_commands = authz.add_subparsers(dest="authz_command", required=True)
    explain = authz_commands.add_parser(
        "explain", help="can PRINCIPAL do ACTION on KEY (with CONTEXT) according to the store, and why"
    )
    explain.add_argument(
        "--principal", required=True, help="an account id, or a root, user, role or session ARN (required)"
    )
    explain.add_argument("--action", required=True, help="e.g. kms:Encrypt (required)")
    explain.add_argument(
        "--key",
        help="the key: a key id, key ARN, alias name (alias/orders) or alias ARN (default: none, for actions on "
        "no key such as kms:CreateKey)",
    )
    explain.add_argument(
        "--account",
        metavar="ACCOUNT",
        help="the key's account, for a key id or alias name (default: the account of --principal)",
    )
    explain.add_argument(
        "--region", help="the key's region, for a key id or alias name (default: none; needed for those)"
    )
    explain.add_argument(
        "--context",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a condition key of the request, e.g. kms:EncryptionContext:app=payroll or aws:SourceIp=10.0.0.1 "
        "(default: none)",
    )
    _add_json_option(explain, "the answer")
    _add_store_option(explain)
    explain.set_defaults(handler=run_authz_explain)


def _add_store(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    store = commands.add_parser("store", help="migrate, check or copy a store (no server needed)")
    store_commands = store.add_subparsers(dest="store_command", required=True)

    migrate = store_commands.add_parser(
        "migrate", help="migrate the store to the schema this kmsd writes, and print the version before and after"
    )
    _add_store_option(migrate)
    migrate.set_defaults(handler=run_store_migrate)

    check = store_commands.add_parser(
        "check",
        help="check, writing nothing, that the store answers, its schema is current, and the root key here "
        "(KMSD_ROOT_KEY or the root-key file, as kmsd serve finds it) is the store's; exit status 1 if not",
    )
    _add_store_option(check)
    check.set_defaults(handler=run_store_check)

    copy = store_commands.add_parser(
        "copy",
        help="copy every row of one store into a new, empty one (SQLite to PostgreSQL or back), in one "
        "transaction; stop serving writes from the source first (writes made during the copy are not copied), "
        "and serve the destination with the source's root key",
    )
    copy.add_argument(
        "--from",
        dest="from_url",
        required=True,
        metavar="URL",
        help="the store to copy, at the latest schema (required)",
    )
    copy.add_argument(
        "--to",
        dest="to_url",
        required=True,
        metavar="URL",
        help="the new store: a SQLite file that does not exist or holds no data, or an empty PostgreSQL "
        "database (required)",
    )
    copy.set_defaults(handler=run_store_copy)


def _workers(text: str) -> int:
    """``--workers``: a positive number, or ``auto`` for the cores this process may run on."""
    if text == "auto":
        return max(1, len(os.sched_getaffinity(0)))
    return _positive_int(text)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _region_list(text: str) -> list[str]:
    from kmsd.api.regions import parse_region_list

    try:
        return parse_region_list(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _add_audit(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = commands.add_parser("audit", help="verify or query the stored audit trail (no server needed)")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)

    verify = audit_commands.add_parser(
        "verify",
        help="check the audit trail's hash chain with the store's root key (KMSD_ROOT_KEY or the root-key file, "
        "as kmsd serve finds it): print every edited, removed or reordered event and exit 1, or the number of "
        "events checked and exit 0",
    )
    _add_store_option(verify)
    verify.set_defaults(handler=run_audit_verify)

    query = audit_commands.add_parser("query", help="print the stored events that match, newest first")
    _add_store_option(query)
    query.add_argument("--account", metavar="ID", help="only this account's trail (default: every account's)")
    query.add_argument(
        "--start-time", metavar="T", type=parse_time, help="only events at or after T, ISO 8601 (default: no bound)"
    )
    query.add_argument(
        "--end-time", metavar="T", type=parse_time, help="only events at or before T, ISO 8601 (default: no bound)"
    )
    query.add_argument("--principal", metavar="ARN", help="only calls made by this principal ARN (default: any)")
    query.add_argument(
        "--key", metavar="KEY_ID_OR_ARN", help="only calls on this KMS key, by key id or ARN (default: any)"
    )
    query.add_argument("--event-name", metavar="NAME", help="only this operation, e.g. Encrypt (default: any)")
    errors = query.add_mutually_exclusive_group()
    errors.add_argument("--error", metavar="CODE", help="only calls that failed with this error code (default: any)")
    errors.add_argument("--errors-only", action="store_true", help="only calls that failed (default: off)")
    query.add_argument("--max", metavar="N", type=_positive_int, help="print at most N events (default: every match)")
    query.add_argument(
        "--json", action="store_true", help="print each event's CloudTrail record as one JSON line (default: text)"
    )
    query.set_defaults(handler=run_audit_query)


def _add_policy_check(policy_commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check = policy_commands.add_parser(
        "check", help="lint a policy document: IAM Access Analyzer's findings, with KMS's for key policies"
    )
    check.add_argument("file", metavar="FILE", help="the policy document (JSON); - reads stdin")
    check.add_argument(
        "--kind",
        choices=[*sorted(CHECK_KINDS), *UNSUPPORTED_KINDS],
        default="identity",
        help="the kind of policy: kmsd's names, key for a key policy, or ValidatePolicy's policyType "
        "(default: %(default)s)",
    )
    check.add_argument(
        "--resource-type",
        metavar="TYPE",
        help=f"ValidatePolicy's validatePolicyResourceType; {KEY_RESOURCE_TYPE} checks a key policy (default: none)",
    )
    check.add_argument(
        "--limit",
        choices=sorted(LIMITS),
        help="size limit to apply (default: key for resource and key, session for session, managed otherwise)",
    )
    check.add_argument(
        "--fail-on",
        choices=["error", "security-warning", "warning", "suggestion"],
        default="error",
        help="exit 1 when a finding is this severe or more (default: %(default)s)",
    )
    check.add_argument(
        "--store",
        metavar="URL",
        help="a key policy: also check it against this store's IAM policies and lockout rule (default: none)",
    )
    check.add_argument(
        "--key",
        metavar="ARN",
        help="the key the key policy is for; its account is the one checked (default: the account the policy "
        "delegates to)",
    )
    check.add_argument(
        "--principal",
        metavar="ARN",
        help="who would put the key policy, for the lockout check (default: the key's account root)",
    )
    _add_json_option(check, "the findings (a ValidatePolicy response)")
    check.set_defaults(handler=run_check)

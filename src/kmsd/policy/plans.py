"""A set of policies compiled against one subject: the statements that can apply, grouped by the question they answer.

AWS's evaluation logic asks a few questions of every request: does a
``Deny`` apply, and in which kind of policy; does a resource-based policy
name the caller itself, its role or only its account; does an identity-based
policy, the permissions boundary, the session policy allow.  A
:class:`PolicySetPlan` holds, for one ordered set of policies and one
*subject* (action, resource, caller: what repeats from request to request),
the statements that survive the action, resource and principal filters,
sorted into one :data:`Group` per question.  The evaluator then answers only
the questions its decision needs, in the order that settles it soonest, and
stops each group at the first statement whose conditions hold.  The full
list of applying statements is worked out only when a decision is asked for
it (:meth:`PolicySetPlan.matches`).  The groups of resource-based policies
are meant for :meth:`PolicySetPlan.resource_context` (the request without
its IAM-only keys), the others for the whole context; the plan's own methods
pass each the right one.
"""

from __future__ import annotations

from kmsd.policy.compiled import SubjectKey, compiled_of
from kmsd.policy.conditions import ContextTest
from kmsd.policy.context import RequestContext, hidden_names
from kmsd.policy.decision import StatementMatch, StatementTrace
from kmsd.policy.explain import trace_statements
from kmsd.policy.model import AllowVia, Policy, PolicyKind

# The statements that answer one question, as one test: whether one of them applies to a request.  None when
# there are none; otherwise their per-request tests (conditions, resources with variables) tried in turn,
# stopping at the first that holds, or a test that always holds when one of them has nothing left to check.
Group = ContextTest | None

# The order AWS lists the policy types it searches for a Deny; the first that denies names the denial.
DENY_ORDER = (PolicyKind.RESOURCE, PolicyKind.IDENTITY, PolicyKind.PERMISSIONS_BOUNDARY, PolicyKind.SESSION)


# Distinct sets of IAM-only keys remembered per plan; a service sends one set, so this bounds only misuse.
_HIDDEN_SETS_LIMIT = 64


def holds(group: Group, context: RequestContext) -> bool:
    """Whether some statement of ``group`` applies to ``context``."""
    return group is not None and group(context)


def _always(context: RequestContext) -> bool:
    return True


def _group(tests: list[ContextTest | None]) -> Group:
    if not tests:
        return None
    if any(test is None for test in tests):
        return _always
    chain = tuple(test for test in tests if test is not None)
    if len(chain) == 1:
        return chain[0]

    def any_holds(context: RequestContext) -> bool:
        for test in chain:  # noqa: SIM110 - a plain loop: this runs for every request
            if test(context):
                return True
        return False

    return any_holds


class PolicySetPlan:
    """One ordered set of policies against one subject.

    ``denies`` pairs each kind that has applicable Deny statements with their
    group, in :data:`DENY_ORDER`; ``resource_principal``, ``resource_role``
    and ``resource_account`` are the resource-policy Allows by how they name
    the caller (see :class:`AllowVia`); ``identity``, ``boundary`` and
    ``session`` the Allows of the other kinds.  ``entries`` lists every
    surviving statement in evaluation order with the match it makes and the
    test left to make it.
    """

    __slots__ = (
        "boundary",
        "denies",
        "entries",
        "has_boundary",
        "has_session",
        "identity",
        "policies",
        "reads_hidden",
        "resource_account",
        "resource_keys",
        "resource_principal",
        "resource_role",
        "session",
    )

    def __init__(self, policies: tuple[Policy, ...], context: RequestContext) -> None:
        self.policies = policies
        self.has_boundary = any(policy.kind is PolicyKind.PERMISSIONS_BOUNDARY for policy in policies)
        self.has_session = any(policy.kind is PolicyKind.SESSION for policy in policies)
        principal = context.principal
        subject: SubjectKey = (
            context.folded_action,
            context.resource,
            principal.arn,
            principal.account_id,
            principal.kind,
            principal.role_arn,
            self.has_boundary,
        )
        entries: list[tuple[StatementMatch, ContextTest | None]] = []
        # The tests of each kind's Deny and Allow statements, by the kind's place in DENY_ORDER: lists rather
        # than dictionaries keyed by kind, as hashing an enum member is a Python call.  Resource-policy Allows
        # go by how they name the caller instead: PRINCIPAL, ROLE, ACCOUNT.
        denies: list[list[ContextTest | None]] = [[] for _ in DENY_ORDER]
        allows: list[list[ContextTest | None]] = [[] for _ in DENY_ORDER]
        by_via: tuple[list[ContextTest | None], ...] = ([], [], [])
        resource_keys: set[str] = set()
        for policy in policies:
            compiled = compiled_of(policy)
            statement_ids = compiled.statement_ids(policy.policy_id)
            kind = policy.kind
            position = DENY_ORDER.index(kind)
            for statement, via in compiled.checks(subject, context):
                test = statement.request_test
                entries.append((StatementMatch(kind, statement_ids[statement.index], statement.deny, via), test))
                if kind is PolicyKind.RESOURCE:
                    resource_keys |= statement.context_keys
                if statement.deny:
                    denies[position].append(test)
                elif kind is PolicyKind.RESOURCE:
                    by_via[0 if via is AllowVia.PRINCIPAL else 1 if via is AllowVia.ROLE else 2].append(test)
                else:
                    allows[position].append(test)
        self.entries = tuple(entries)
        # The request keys the resource-policy statements read, and per set of IAM-only keys whether they read
        # one of them: when not, those statements see the same whether the keys are hidden or not.
        self.resource_keys = frozenset(resource_keys)
        self.reads_hidden: dict[frozenset[str], bool] = {}
        self.denies: tuple[tuple[PolicyKind, ContextTest], ...] = tuple(
            (kind, group)
            for kind, tests in zip(DENY_ORDER, denies, strict=True)
            if (group := _group(tests)) is not None
        )
        self.resource_principal, self.resource_role, self.resource_account = (_group(tests) for tests in by_via)
        self.identity = _group(allows[DENY_ORDER.index(PolicyKind.IDENTITY)])
        self.boundary = _group(allows[DENY_ORDER.index(PolicyKind.PERMISSIONS_BOUNDARY)])
        self.session = _group(allows[DENY_ORDER.index(PolicyKind.SESSION)])

    def resource_context(self, context: RequestContext) -> RequestContext:
        """The context for this plan's resource-policy statements: without ``context.iam_only_keys``.

        That is ``context`` itself, at no cost, when none of those statements
        reads an IAM-only key (the default key policy reads none).
        """
        hidden = context.iam_only_keys
        if not hidden:
            return context
        reads = self.reads_hidden.get(hidden)
        if reads is None:
            reads = bool(hidden_names(self.resource_keys, hidden))
            if len(self.reads_hidden) >= _HIDDEN_SETS_LIMIT:
                self.reads_hidden.clear()
            self.reads_hidden[hidden] = reads
        return context.for_resource_policies() if reads else context

    def matches(self, context: RequestContext) -> tuple[StatementMatch, ...]:
        """Every statement of every policy that applies to ``context``, policy by policy, in document order.

        Resource-based policy statements see :meth:`resource_context`.
        """
        seen = self.resource_context(context)
        if seen is context:
            return tuple([match for match, test in self.entries if test is None or test(context)])
        return tuple(
            [
                match
                for match, test in self.entries
                if test is None or test(seen if match.kind is PolicyKind.RESOURCE else context)
            ]
        )

    def resource_via(self, context: RequestContext) -> AllowVia | None:
        """How the most direct resource-policy Allow that applies names the caller, or ``None``."""
        seen = self.resource_context(context)
        if holds(self.resource_principal, seen):
            return AllowVia.PRINCIPAL
        if holds(self.resource_role, seen):
            return AllowVia.ROLE
        if holds(self.resource_account, seen):
            return AllowVia.ACCOUNT
        return None

    def trace(self, context: RequestContext) -> tuple[StatementTrace, ...]:
        """Every statement of every policy, traced element by element: for ``kmsd policy explain`` and its kin."""
        return trace_statements(context, self.policies, self.has_boundary)

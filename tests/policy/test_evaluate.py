"""AWS's evaluation logic across policy kinds: explicit deny, same and cross account, boundaries and sessions."""

from __future__ import annotations

from kmsd.policy import (
    AllowVia,
    KindMatch,
    Outcome,
    Policy,
    PolicyKind,
    PrincipalInfo,
    RequestContext,
    evaluate,
    parse_policy,
)
from tests.policy.helpers import (
    ACCOUNT,
    ALICE,
    CAROL,
    KEY_ARN,
    OTHER_ACCOUNT,
    ROLE_ARN,
    ROOT,
    SESSION,
    allow,
    decide,
    deny,
    document,
    identity,
    request,
    resource_policy,
)


def boundary(*statements: dict[str, object]) -> Policy:
    return parse_policy(document(*statements), PolicyKind.PERMISSIONS_BOUNDARY, "boundary")


def session_policy(*statements: dict[str, object]) -> Policy:
    return parse_policy(document(*statements), PolicyKind.SESSION, "session")


def named(principal: object, sid: str = "K") -> dict[str, object]:
    return {**allow(sid), "Principal": {"AWS": principal}}


def test_no_policies_is_an_implicit_deny_naming_identity_policies() -> None:
    decision = decide([])
    assert decision.outcome is Outcome.IMPLICIT_DENY
    assert decision.statements == ()
    assert decision.denial_kind is PolicyKind.IDENTITY
    assert decision.denial_reason("kms:Encrypt") == "because no identity-based policy allows the kms:Encrypt action"


def test_identity_allow_suffices_in_the_same_account() -> None:
    decision = decide([identity(allow("A"), allow("B", action="kms:*"))])
    assert decision.outcome is Outcome.ALLOW
    assert decision.statements == ("user:A", "user:B")  # every matching allow, sorted
    assert decision.denial_kind is None


def test_explicit_deny_wins_and_names_its_statements() -> None:
    decision = decide([identity(allow("A"), deny("Z"), deny("Y", action="kms:*"))])
    assert decision.outcome is Outcome.EXPLICIT_DENY
    assert decision.statements == ("user:Y", "user:Z")
    assert decision.denial_kind is PolicyKind.IDENTITY
    assert decision.denial_reason("kms:Encrypt") == "with an explicit deny in an identity-based policy"


def test_deny_in_a_resource_policy() -> None:
    key = resource_policy({**deny("NoOne"), "Principal": "*"})
    decision = decide([identity(allow()), key])
    assert decision.outcome is Outcome.EXPLICIT_DENY
    assert decision.denial_kind is PolicyKind.RESOURCE
    assert decision.denial_reason("kms:Encrypt") == "with an explicit deny in a resource-based policy"


def test_deny_in_a_boundary_and_a_session_policy() -> None:
    assert decide([identity(allow()), boundary(deny())]).denial_kind is PolicyKind.PERMISSIONS_BOUNDARY
    decision = decide([identity(allow()), session_policy(deny())], request(SESSION))
    assert decision.denial_kind is PolicyKind.SESSION
    assert decision.denial_reason("kms:Encrypt") == "with an explicit deny in a session policy"


def test_resource_policy_naming_the_user_suffices_alone() -> None:
    decision = decide([resource_policy(named(ALICE.arn))])
    assert decision.outcome is Outcome.ALLOW
    assert decision.kinds[PolicyKind.RESOURCE].allow_via is AllowVia.PRINCIPAL


def test_resource_policy_naming_the_account_only_delegates() -> None:
    key = resource_policy(named(f"arn:aws:iam::{ACCOUNT}:root", "Enable IAM User Permissions"))
    decision = decide([key])
    assert decision.outcome is Outcome.IMPLICIT_DENY
    assert decision.denial_kind is PolicyKind.IDENTITY
    verdict = decision.kinds[PolicyKind.RESOURCE]
    assert verdict.allowed and verdict.allow_via is AllowVia.ACCOUNT
    assert verdict.match is KindMatch.ALLOWED
    allowed = decide([key, identity(allow("UseKey"))])
    assert allowed.outcome is Outcome.ALLOW
    assert allowed.statements == ("key:Enable IAM User Permissions", "user:UseKey")


def test_naming_the_account_names_its_root_user_directly() -> None:
    key = resource_policy(named(ACCOUNT))
    assert decide([key], request(ROOT)).allowed
    assert decide([key], request(ROOT)).kinds[PolicyKind.RESOURCE].allow_via is AllowVia.PRINCIPAL


def test_root_has_no_implicit_allow() -> None:
    # KMS: "Unlike other AWS resource policies, a KMS key policy does not automatically give permission to the account".
    assert not decide([], request(ROOT)).allowed


def test_boundary_limits_identity_allows() -> None:
    decision = decide([identity(allow()), boundary(allow(action="kms:Decrypt"))])
    assert decision.outcome is Outcome.IMPLICIT_DENY
    assert decision.denial_kind is PolicyKind.PERMISSIONS_BOUNDARY
    assert decision.denial_reason("kms:Encrypt") == "because no permissions boundary allows the kms:Encrypt action"
    both = decide([identity(allow("Id")), boundary(allow("Bound", action="kms:*"))])
    assert both.allowed
    assert both.statements == ("boundary:Bound", "user:Id")


def test_a_boundary_grants_nothing_by_itself() -> None:
    decision = decide([boundary(allow())])
    assert decision.outcome is Outcome.IMPLICIT_DENY
    assert decision.denial_kind is PolicyKind.IDENTITY


def test_session_policy_limits_identity_allows() -> None:
    context = request(SESSION)
    decision = decide([identity(allow()), session_policy(allow(action="kms:Decrypt"))], context)
    assert decision.denial_kind is PolicyKind.SESSION
    assert decision.denial_reason("kms:Encrypt") == "because no session policy allows the kms:Encrypt action"
    assert decide([identity(allow()), session_policy(allow())], context).allowed


def test_same_account_resource_grants_and_limiting_policies() -> None:
    # "Policy evaluation logic", resource-based policies within one account: a grant to the user or the role
    # session is not limited by implicit denies elsewhere; a grant to the role is limited by the boundary and
    # the session policy.
    narrow_boundary = boundary(allow(action="kms:Decrypt"))
    narrow_session = session_policy(allow(action="kms:Decrypt"))
    assert decide([resource_policy(named(ALICE.arn)), narrow_boundary]).allowed
    to_session = resource_policy(named(SESSION.arn))
    assert decide([to_session, narrow_boundary, narrow_session], request(SESSION)).allowed
    to_role = resource_policy(named(ROLE_ARN))
    assert decide([to_role], request(SESSION)).allowed
    limited = decide([to_role, narrow_boundary], request(SESSION))
    assert limited.outcome is Outcome.IMPLICIT_DENY
    assert limited.denial_kind is PolicyKind.PERMISSIONS_BOUNDARY
    by_session = decide([to_role, narrow_session], request(SESSION))
    assert by_session.denial_kind is PolicyKind.SESSION
    assert decide([to_role, boundary(allow())], request(SESSION)).allowed


def test_everyone_grant_is_direct_within_the_account() -> None:
    public = resource_policy({**allow(), "Principal": "*"})
    assert decide([public, boundary(allow(action="kms:Decrypt"))]).allowed


def test_cross_account_needs_both_sides() -> None:
    to_carol = resource_policy(named(CAROL.arn))
    to_account = resource_policy(named(OTHER_ACCOUNT))
    carol_may = identity(allow(resource=KEY_ARN), policy_id="carol")
    context = request(CAROL)
    only_resource = decide([to_carol], context)
    assert only_resource.outcome is Outcome.IMPLICIT_DENY
    assert only_resource.denial_kind is PolicyKind.IDENTITY
    assert not only_resource.same_account
    only_identity = decide([carol_may], context)
    assert only_identity.denial_kind is PolicyKind.RESOURCE
    assert (
        only_identity.denial_reason("kms:Encrypt") == "because no resource-based policy allows the kms:Encrypt action"
    )
    assert decide([to_carol, carol_may], context).allowed
    assert decide([to_account, carol_may], context).allowed
    limited = decide([to_account, carol_may, boundary(allow(action="kms:Decrypt"))], context)
    assert limited.denial_kind is PolicyKind.PERMISSIONS_BOUNDARY
    neither = decide([], context)
    assert neither.denial_kind is PolicyKind.RESOURCE


def test_resource_account_override_and_star_resources() -> None:
    key = resource_policy(named(CAROL.arn))
    carol_may = identity(allow(action="kms:*"), policy_id="carol")
    listing = RequestContext("kms:ListKeys", "*", CAROL)
    assert listing.same_account  # `*` belongs to the caller's account
    assert decide([carol_may], RequestContext("kms:ListKeys", "*", CAROL)).allowed
    moved = RequestContext("kms:Encrypt", KEY_ARN, CAROL, resource_account=OTHER_ACCOUNT)  # e.g. an S3 ARN
    assert moved.same_account
    assert decide([carol_may], moved).allowed
    assert not decide([carol_may], request(CAROL)).allowed
    assert decide([key, carol_may], request(CAROL)).allowed


def test_services_and_anonymous_callers_need_only_the_resource_policy() -> None:
    service = PrincipalInfo("cloudtrail.amazonaws.com", "", "service")
    key = resource_policy({**allow(), "Principal": {"Service": "cloudtrail.amazonaws.com"}})
    assert decide([key], request(service)).allowed
    denied = decide([], request(service))
    assert denied.denial_kind is PolicyKind.RESOURCE
    anonymous = PrincipalInfo("*", "", "anonymous")
    assert decide([resource_policy({**allow(), "Principal": "*"})], request(anonymous)).allowed


def test_not_principal_deny_always_applies_to_a_principal_with_a_boundary() -> None:
    # "Permissions boundaries for IAM entities": NotPrincipal with Deny always denies a principal that has a
    # permissions boundary, whatever NotPrincipal lists.
    exempt = {**deny("NotMe"), "NotPrincipal": {"AWS": [ALICE.arn, f"arn:aws:iam::{ACCOUNT}:root"]}}
    key = resource_policy(exempt, named(ALICE.arn))
    assert decide([key]).allowed
    with_boundary = decide([key, boundary(allow())])
    assert with_boundary.outcome is Outcome.EXPLICIT_DENY
    assert with_boundary.statements == ("key:NotMe",)


def test_per_kind_verdicts() -> None:
    key = resource_policy(named(ALICE.arn), {**deny("D", action="kms:Decrypt"), "Principal": "*"})
    decision = decide([key, identity(allow("I"))])
    kinds = decision.kinds
    assert set(kinds) == set(PolicyKind)
    assert kinds[PolicyKind.RESOURCE].present and kinds[PolicyKind.RESOURCE].allow_statements == ("key:K",)
    assert kinds[PolicyKind.RESOURCE].deny_statements == ()
    assert kinds[PolicyKind.IDENTITY].match is KindMatch.ALLOWED
    assert not kinds[PolicyKind.SESSION].present
    assert kinds[PolicyKind.SESSION].match is KindMatch.NO_MATCH
    denied = decide([key, identity(allow("I", action="kms:*"))], request(action="kms:Decrypt"))
    assert denied.kinds[PolicyKind.RESOURCE].match is KindMatch.DENIED
    assert denied.kinds[PolicyKind.IDENTITY].allowed
    assert [match.statement_id for match in denied.matches] == ["key:D", "user:I"]


def test_decision_json() -> None:
    decision = decide([identity(allow("A"))])
    report = decision.to_json()
    assert report["decision"] == "Allow"
    assert report["statements"] == ["user:A"]
    assert report["denial_kind"] is None
    assert report["kinds"]["identity"]["match"] == "allowed"
    assert report["trace"][0]["statement"] == "user:A"
    assert report["trace"][0]["matched"] is True


def test_same_policy_set_gives_the_same_answer_every_time() -> None:
    # The per-action memo must not leak one request's verdict into another's.
    policy = identity(allow("Cond", Condition={"StringEquals": {"test:Key": "yes"}}))
    for _ in range(3):
        assert decide([policy], request(keys={"test:Key": "yes"})).allowed
        assert not decide([policy], request(keys={"test:Key": "no"})).allowed
        assert not decide([policy], request(keys={})).allowed
    dated = identity(allow("Cond", Condition={"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}))
    assert decide([dated], request(keys={"aws:CurrentTime": "2029-12-31T00:00:00Z"})).allowed
    assert not decide([dated], request(keys={"aws:CurrentTime": "2030-06-01T00:00:00Z"})).allowed


def test_policies_built_by_hand_are_compiled_on_demand() -> None:
    parsed = identity(allow("A"))
    bare = type(parsed)(parsed.kind, "bare", parsed.document)
    assert evaluate(request(), [bare]).statements == ("bare:A",)

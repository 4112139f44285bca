"""CreateGrant, ListGrants, ListRetirableGrants, RetireGrant and RevokeGrant against a real SqliteStore.

The handlers are called directly (in a store transaction when they write, as KmsService does), so
these tests check the grant rules themselves; which caller may call them at all is the authorizer's
and is tested with it.  Keys are created through KmsService by the root user of their account.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kmsd.authz.grants import grant_id_from_token, is_grant_id
from kmsd.clock import ManualClock
from kmsd.iam.principal import Caller, Principal
from kmsd.kms import grants
from kmsd.kms.service import OPERATIONS, KmsService, Operation
from kmsd.store.models import AliasRecord, GrantRecord, IamRole, IamUser, KeyRecord
from kmsd.store.sqlite import SqliteStore

from .aws_errors import aws_error
from .conftest import ACCOUNT, OTHER_ACCOUNT, REGION, Kms, caller_for

GRANT_OPERATIONS = ("CreateGrant", "ListGrants", "ListRetirableGrants", "RetireGrant", "RevokeGrant")

T0 = datetime(2026, 1, 2, tzinfo=UTC)
ROOT_ARN = f"arn:aws:iam::{ACCOUNT}:root"
ALICE_ARN = f"arn:aws:iam::{ACCOUNT}:user/alice"
BOB_ARN = f"arn:aws:iam::{ACCOUNT}:user/team/bob"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/service/app"
OTHER_USER_ARN = f"arn:aws:iam::{OTHER_ACCOUNT}:user/carol"


class Grants:
    """Resolves and runs the grant handlers as one caller, with KmsService's context, without the decision."""

    def __init__(self, service: KmsService, caller: Caller) -> None:
        self.service = service
        self.caller = caller

    def __call__(self, operation: str, **params: Any) -> dict[str, Any]:
        assert operation in GRANT_OPERATIONS
        entry = OPERATIONS[operation]
        if not entry.writes:
            return self._run(entry, params)
        with self.service.context.store.transaction():
            return self._run(entry, params)

    def _run(self, entry: Operation, params: Mapping[str, Any]) -> dict[str, Any]:
        context = self.service.context
        resolved = entry.resolve(context, self.caller, params)
        return entry.act(context, self.caller, resolved.params, resolved)

    def as_principal(self, principal: Principal) -> Grants:
        return Grants(self.service, Caller(principal=principal, region=self.caller.region, request_id="grants-test"))


def user_principal(user: IamUser) -> Principal:
    return Principal(arn=user.arn, account_id=user.account_id, kind="user", user_id=user.user_id, name=user.user_name)


def session_principal(role: IamRole, session: str) -> Principal:
    return Principal(
        arn=f"arn:aws:sts::{role.account_id}:assumed-role/{role.role_name}/{session}",
        account_id=role.account_id,
        kind="assumed-role",
        user_id=f"{role.role_id}:{session}",
        role_arn=role.arn,
    )


@pytest.fixture
def alice(store: SqliteStore) -> IamUser:
    user = IamUser(user_id="AIDAALICEALICEALICE1", account_id=ACCOUNT, user_name="alice", path="/", created_at=T0)
    store.insert_user(user)
    return user


@pytest.fixture
def bob(store: SqliteStore) -> IamUser:
    user = IamUser(user_id="AIDABOBBOBBOBBOBBOB1", account_id=ACCOUNT, user_name="bob", path="/team/", created_at=T0)
    store.insert_user(user)
    return user


@pytest.fixture
def app_role(store: SqliteStore) -> IamRole:
    role = IamRole(
        role_id="AROAAPPAPPAPPAPPAPP1",
        account_id=ACCOUNT,
        role_name="app",
        path="/service/",
        created_at=T0,
        assume_role_policy="{}",
    )
    store.insert_role(role)
    return role


@pytest.fixture
def carol(store: SqliteStore) -> IamUser:
    user = IamUser(user_id="AIDACAROLCAROLCAROL1", account_id=OTHER_ACCOUNT, user_name="carol", path="/", created_at=T0)
    store.insert_user(user)
    return user


@pytest.fixture
def g(service: KmsService, caller: Caller) -> Grants:
    return Grants(service, caller)


@pytest.fixture
def key(kms: Kms) -> dict[str, Any]:
    return kms.create_key()


def create(g: Grants, key: Mapping[str, Any], grantee: str = ALICE_ARN, *operations: str, **params: Any) -> str:
    response = g(
        "CreateGrant",
        KeyId=key["KeyId"],
        GranteePrincipal=grantee,
        Operations=list(operations or ["Decrypt"]),
        **params,
    )
    grant_id: str = response["GrantId"]
    return grant_id


def add_alias(store: SqliteStore, key: Mapping[str, Any], name: str) -> None:
    # Straight into the store: CreateAlias and its authorization are tested elsewhere.
    store.insert_alias(AliasRecord(ACCOUNT, REGION, name, key["KeyId"], T0, T0))


def stored(store: SqliteStore, grant_id: str) -> GrantRecord:
    grant = store.get_grant(grant_id)
    assert grant is not None
    return grant


# --- CreateGrant ----------------------------------------------------------------------------------------


def test_create_grant_returns_an_id_and_a_token_naming_it(
    g: Grants, key: dict[str, Any], alice: IamUser, store: SqliteStore, clock: ManualClock
) -> None:
    response = g("CreateGrant", KeyId=key["KeyId"], GranteePrincipal=alice.arn, Operations=["Encrypt", "Decrypt"])
    assert set(response) == {"GrantId", "GrantToken"}
    assert is_grant_id(response["GrantId"])
    assert grant_id_from_token(response["GrantToken"]) == response["GrantId"]
    assert stored(store, response["GrantId"]) == GrantRecord(
        grant_id=response["GrantId"],
        key_id=key["KeyId"],
        region=REGION,
        grantee_principal=alice.arn,
        operations=("Encrypt", "Decrypt"),
        issuing_account=ROOT_ARN,
        created_at=clock.now(),
    )


def test_create_grant_takes_a_key_arn(g: Grants, key: dict[str, Any], alice: IamUser, store: SqliteStore) -> None:
    grant_id = g("CreateGrant", KeyId=key["Arn"], GranteePrincipal=alice.arn, Operations=["Decrypt"])["GrantId"]
    assert stored(store, grant_id).key_id == key["KeyId"]


def test_create_grant_refuses_aliases(g: Grants, key: dict[str, Any], alice: IamUser, store: SqliteStore) -> None:
    add_alias(store, key, "alias/granted")
    for alias in ("alias/granted", f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/granted"):
        with aws_error("InvalidArnException", "Key Aliases are not supported for this operation."):
            g("CreateGrant", KeyId=alias, GranteePrincipal=alice.arn, Operations=["Decrypt"])


def test_create_grant_on_an_unknown_key(g: Grants, alice: IamUser) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    with aws_error("NotFoundException", f"Key 'arn:aws:kms:{REGION}:{ACCOUNT}:key/{missing}' does not exist"):
        g("CreateGrant", KeyId=missing, GranteePrincipal=alice.arn, Operations=["Decrypt"])


def test_a_grant_on_another_accounts_key_is_issued_by_the_keys_account(
    g: Grants, kms: Kms, carol: IamUser, store: SqliteStore
) -> None:
    # CreateGrant "Cross-account use: Yes ... specify the key ARN in the value of the KeyId parameter."
    theirs = kms.as_caller(caller_for(OTHER_ACCOUNT)).create_key()
    grant_id = g("CreateGrant", KeyId=theirs["Arn"], GranteePrincipal=carol.arn, Operations=["Decrypt"])["GrantId"]
    assert stored(store, grant_id).issuing_account == f"arn:aws:iam::{OTHER_ACCOUNT}:root"


@pytest.mark.usefixtures("alice", "bob", "app_role", "carol")
@pytest.mark.parametrize(
    ("given", "kept"),
    [
        (ALICE_ARN, ALICE_ARN),
        (f"arn:aws:iam::{ACCOUNT}:user/ALICE", ALICE_ARN),  # IAM names are not case sensitive
        (BOB_ARN, BOB_ARN),
        (ROLE_ARN, ROLE_ARN),
        (
            f"arn:aws:sts::{ACCOUNT}:assumed-role/app/nightly-job",
            f"arn:aws:sts::{ACCOUNT}:assumed-role/app/nightly-job",
        ),
        (ROOT_ARN, ROOT_ARN),
        (f"arn:aws:iam::{OTHER_ACCOUNT}:root", f"arn:aws:iam::{OTHER_ACCOUNT}:root"),
        (OTHER_USER_ARN, OTHER_USER_ARN),
    ],
)
def test_grantees_are_existing_principals_kept_by_canonical_arn(
    g: Grants, key: dict[str, Any], store: SqliteStore, given: str, kept: str
) -> None:
    # "Valid principals include Amazon Web Services accounts, IAM users, IAM roles, federated users,
    # and assumed role users."
    grant_id = create(g, key, given)
    assert stored(store, grant_id).grantee_principal == kept


def test_a_federated_user_of_a_known_account_is_a_valid_grantee(
    g: Grants, key: dict[str, Any], store: SqliteStore
) -> None:
    # (The kms tests' store holds the accounts 111122223333 and 444455556666.)
    federated = f"arn:aws:sts::{ACCOUNT}:federated-user/dana"
    assert stored(store, create(g, key, federated)).grantee_principal == federated


@pytest.mark.usefixtures("alice", "bob", "app_role")
@pytest.mark.parametrize(
    "principal",
    [
        f"arn:aws:iam::{ACCOUNT}:user/nobody",
        f"arn:aws:iam::{ACCOUNT}:user/alice/",
        f"arn:aws:iam::{ACCOUNT}:user/other-path/bob",  # bob's path is /team/
        f"arn:aws:iam::{ACCOUNT}:role/app",  # the role's path is /service/
        f"arn:aws:iam::{ACCOUNT}:group/admins",
        f"arn:aws:sts::{ACCOUNT}:assumed-role/missing/session",
        f"arn:aws:sts::{ACCOUNT}:assumed-role/app/x",  # session names have 2 to 64 characters
        "arn:aws:sts::999988887777:federated-user/dana",  # the account is not known to this store
        "arn:aws:iam::999988887777:root",
        f"arn:aws-cn:iam::{ACCOUNT}:root",
        "dynamodb.us-east-1.amazonaws.com",  # "the grantee principal cannot be a service principal"
        ACCOUNT,
        "*",
    ],
)
def test_anything_but_an_existing_principal_is_an_invalid_arn(g: Grants, key: dict[str, Any], principal: str) -> None:
    with aws_error("InvalidArnException", f"ARN does not refer to a valid principal: {principal}"):
        create(g, key, principal)
    with aws_error("InvalidArnException", f"ARN does not refer to a valid principal: {principal}"):
        create(g, key, ALICE_ARN, RetiringPrincipal=principal)


def test_the_grantee_is_required(g: Grants, key: dict[str, Any]) -> None:
    with aws_error(
        "ValidationException",
        "1 validation error detected: Value null at 'granteePrincipal' failed to satisfy constraint: "
        "Member must not be null",
    ):
        g("CreateGrant", KeyId=key["KeyId"], Operations=["Decrypt"])


def test_service_principal_grants_are_unsupported(g: Grants, key: dict[str, Any], alice: IamUser) -> None:
    for extra in (
        {"GranteeServicePrincipal": "dynamodb.amazonaws.com"},
        {"RetiringServicePrincipal": "dynamodb.amazonaws.com"},
        {"Constraints": {"SourceArn": "arn:aws:dynamodb:us-east-1:111122223333:table/t"}},
    ):
        with aws_error("UnsupportedOperationException"):
            create(g, key, alice.arn, **extra)


@pytest.mark.usefixtures("alice")
def test_every_grant_operation_of_a_symmetric_key_can_be_granted(
    g: Grants, key: dict[str, Any], store: SqliteStore
) -> None:
    operations = [
        "Decrypt",
        "Encrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "ReEncryptFrom",
        "ReEncryptTo",
        "CreateGrant",
        "RetireGrant",
        "DescribeKey",
    ]
    assert stored(store, create(g, key, ALICE_ARN, *operations)).operations == tuple(operations)


@pytest.mark.usefixtures("alice")
@pytest.mark.parametrize(
    "operation", ["Sign", "Verify", "GetPublicKey", "GenerateMac", "VerifyMac", "DeriveSharedSecret"]
)
def test_operations_a_symmetric_key_cannot_do_are_refused(g: Grants, key: dict[str, Any], operation: str) -> None:
    # "grants for symmetric encryption KMS keys cannot allow the Sign, Verify, GenerateMac or VerifyMac
    # operations ... the CreateGrant request fails with a ValidationError exception."
    with aws_error(
        "ValidationException",
        f"Grant operations [{operation}] are not supported for a KMS key with KeySpec SYMMETRIC_DEFAULT "
        "and KeyUsage ENCRYPT_DECRYPT.",
    ):
        create(g, key, ALICE_ARN, "Decrypt", operation)


@pytest.mark.usefixtures("alice")
def test_operations_are_checked_against_the_key_spec(g: Grants, store: SqliteStore, clock: ManualClock) -> None:
    rsa = KeyRecord(
        key_id="0000000a-0000-4000-8000-000000000000",
        account_id=ACCOUNT,
        region=REGION,
        description="",
        key_usage="ENCRYPT_DECRYPT",
        key_spec="RSA_2048",
        origin="AWS_KMS",
        key_state="Enabled",
        creation_date=clock.now(),
        policy="{}",
        current_material_version=1,
    )
    store.insert_key(rsa)
    rsa_key = {"KeyId": rsa.key_id}
    assert stored(store, create(g, rsa_key, ALICE_ARN, "Decrypt", "GetPublicKey")).operations == (
        "Decrypt",
        "GetPublicKey",
    )
    with aws_error("ValidationException"):
        create(g, rsa_key, ALICE_ARN, "GenerateDataKey")
    # "You cannot use encryption context grant constraints in a grant for an asymmetric KMS key."
    with aws_error(
        "ValidationException",
        "Encryption context grant constraints are not supported for a KMS key with KeySpec RSA_2048.",
    ):
        create(g, rsa_key, ALICE_ARN, "Decrypt", Constraints={"EncryptionContextSubset": {"a": "b"}})


@pytest.mark.usefixtures("alice")
def test_a_grant_of_create_grant_alone_is_refused(g: Grants, key: dict[str, Any], store: SqliteStore) -> None:
    with aws_error("ValidationException", "Grants must not contain only the CreateGrant operation."):
        create(g, key, ALICE_ARN, "CreateGrant")
    assert stored(store, create(g, key, ALICE_ARN, "CreateGrant", "Decrypt")).operations == ("CreateGrant", "Decrypt")


@pytest.mark.usefixtures("alice")
def test_repeated_operations_count_once_and_empty_or_unknown_ones_are_refused(
    g: Grants, key: dict[str, Any], store: SqliteStore
) -> None:
    assert stored(store, create(g, key, ALICE_ARN, "Decrypt", "Encrypt", "Decrypt")).operations == (
        "Decrypt",
        "Encrypt",
    )
    with aws_error(
        "ValidationException",
        "1 validation error detected: Value '[]' at 'operations' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1",
    ):
        g("CreateGrant", KeyId=key["KeyId"], GranteePrincipal=ALICE_ARN, Operations=[])
    with aws_error("ValidationException"):
        create(g, key, ALICE_ARN, "ScheduleKeyDeletion")


@pytest.mark.usefixtures("alice")
def test_a_constraint_is_stored_and_listed(g: Grants, key: dict[str, Any]) -> None:
    create(g, key, ALICE_ARN, "Decrypt", Constraints={"EncryptionContextSubset": {"Department": "IT"}})
    create(g, key, ALICE_ARN, "Encrypt", Constraints={"EncryptionContextEquals": {"Department": "HR"}})
    listed = g("ListGrants", KeyId=key["KeyId"])["Grants"]
    assert [entry["Constraints"] for entry in listed] == [
        {"EncryptionContextSubset": {"Department": "IT"}},
        {"EncryptionContextEquals": {"Department": "HR"}},
    ]


@pytest.mark.usefixtures("alice")
def test_one_constraint_of_at_most_8_pairs_and_384_characters(g: Grants, key: dict[str, Any]) -> None:
    # kms:GrantConstraintType: "The grant constraint can be one of two types"; "Using grant constraints":
    # "up to 8 encryption context pairs ... cannot exceed 384 characters".
    with aws_error("ValidationException"):
        create(
            g,
            key,
            ALICE_ARN,
            Constraints={"EncryptionContextEquals": {"a": "b"}, "EncryptionContextSubset": {"a": "b"}},
        )
    eight = {f"k{i}": "v" for i in range(8)}
    create(g, key, ALICE_ARN, Constraints={"EncryptionContextSubset": eight})
    with aws_error("ValidationException"):
        create(g, key, ALICE_ARN, Constraints={"EncryptionContextSubset": {**eight, "k8": "v"}})
    create(g, key, ALICE_ARN, Constraints={"EncryptionContextEquals": {"k": "v" * 383}})
    with aws_error("ValidationException"):
        create(g, key, ALICE_ARN, Constraints={"EncryptionContextEquals": {"k": "v" * 384}})


@pytest.mark.usefixtures("alice")
def test_the_same_named_request_is_a_retry_that_returns_the_same_grant(
    g: Grants, key: dict[str, Any], store: SqliteStore
) -> None:
    # CreateGrant "Name": "you can retry a CreateGrant request with identical parameters; if the grant
    # already exists, the original GrantId is returned without creating a new grant.  Note that the
    # returned grant token is unique with every CreateGrant request".
    params: dict[str, Any] = {
        "KeyId": key["KeyId"],
        "GranteePrincipal": ALICE_ARN,
        "RetiringPrincipal": ROOT_ARN,
        "Operations": ["Encrypt", "Decrypt"],
        "Constraints": {"EncryptionContextSubset": {"Department": "IT"}},
        "Name": "IT-decrypt",
    }
    first = g("CreateGrant", **params)
    again = g("CreateGrant", **{**params, "Operations": ["Decrypt", "Encrypt"]})
    assert again["GrantId"] == first["GrantId"]
    assert again["GrantToken"] != first["GrantToken"]
    assert grant_id_from_token(again["GrantToken"]) == first["GrantId"]
    assert len(store.list_grants(key["KeyId"], REGION)) == 1
    # A different grant with the same name is a new grant; so is any request without a name.
    different = g("CreateGrant", **{**params, "Operations": ["Decrypt"]})
    assert different["GrantId"] != first["GrantId"]
    unnamed = {name: value for name, value in params.items() if name != "Name"}
    assert g("CreateGrant", **unnamed)["GrantId"] != g("CreateGrant", **unnamed)["GrantId"]
    assert len(store.list_grants(key["KeyId"], REGION)) == 4


@pytest.mark.usefixtures("alice")
def test_create_grant_needs_an_enabled_key(g: Grants, kms: Kms, key: dict[str, Any], store: SqliteStore) -> None:
    # Key states of AWS KMS keys: CreateGrant on a disabled key is DisabledException, pending deletion
    # KMSInvalidStateException.
    kms("DisableKey", KeyId=key["KeyId"])
    with aws_error("DisabledException", f"{key['Arn']} is disabled."):
        create(g, key, ALICE_ARN)
    kms("ScheduleKeyDeletion", KeyId=key["KeyId"])
    with aws_error("KMSInvalidStateException", f"{key['Arn']} is pending deletion."):
        create(g, key, ALICE_ARN)
    assert store.list_grants(key["KeyId"], REGION) == []


@pytest.mark.usefixtures("alice")
def test_create_grant_dry_run_writes_nothing(g: Grants, key: dict[str, Any], store: SqliteStore) -> None:
    with aws_error("DryRunOperationException", "The request would have succeeded, but the DryRun option is set."):
        create(g, key, ALICE_ARN, DryRun=True)
    assert store.list_grants(key["KeyId"], REGION) == []
    create(g, key, ALICE_ARN, DryRun=False)
    assert len(store.list_grants(key["KeyId"], REGION)) == 1


@pytest.mark.usefixtures("alice")
def test_create_grant_checks_its_grant_tokens(g: Grants, key: dict[str, Any]) -> None:
    token = g("CreateGrant", KeyId=key["KeyId"], GranteePrincipal=ALICE_ARN, Operations=["Decrypt"])["GrantToken"]
    create(g, key, ALICE_ARN, GrantTokens=[token])
    with aws_error("InvalidGrantTokenException"):
        create(g, key, ALICE_ARN, GrantTokens=[token, "not-a-grant-token"])


@pytest.mark.usefixtures("alice")
def test_grant_quotas_per_key_and_per_principal(g: Grants, key: dict[str, Any], store: SqliteStore) -> None:
    # "Quotas": grants per KMS key 50,000; grants for a given principal per KMS key 500.
    assert (grants.GRANTS_PER_KEY, grants.GRANTS_PER_PRINCIPAL_PER_KEY) == (50_000, 500)
    create(g, key, ALICE_ARN)
    create(g, key, ALICE_ARN)
    create(g, key, ROOT_ARN)
    existing = store.list_grants(key["KeyId"], REGION)
    record = store.get_key(key["KeyId"], REGION)
    assert record is not None
    grants.check_grant_quotas(existing, ROOT_ARN, record, per_key=4, per_principal=2)
    with aws_error(
        "LimitExceededException", f"The request was rejected because {key['Arn']} already has the maximum of 3 grants."
    ):
        grants.check_grant_quotas(existing, ROOT_ARN, record, per_key=3, per_principal=10)
    with aws_error(
        "LimitExceededException",
        f"The request was rejected because {key['Arn']} already has the maximum of 2 grants for {ALICE_ARN}.",
    ):
        grants.check_grant_quotas(existing, ALICE_ARN, record, per_key=10, per_principal=2)


# --- ListGrants -------------------------------------------------------------------------------------------


def test_list_grants_shows_each_grant_as_aws_does(
    g: Grants, key: dict[str, Any], alice: IamUser, clock: ManualClock
) -> None:
    bare = create(g, key, alice.arn, "Decrypt")
    clock.advance(timedelta(seconds=1))
    named = create(g, key, alice.arn, "Encrypt", Name="named", RetiringPrincipal=ROOT_ARN)
    assert g("ListGrants", KeyId=key["Arn"]) == {
        "Grants": [
            {
                "KeyId": key["Arn"],
                "GrantId": bare,
                "Name": "",
                "CreationDate": clock.now() - timedelta(seconds=1),
                "GranteePrincipal": alice.arn,
                "IssuingAccount": ROOT_ARN,
                "Operations": ["Decrypt"],
            },
            {
                "KeyId": key["Arn"],
                "GrantId": named,
                "Name": "named",
                "CreationDate": clock.now(),
                "GranteePrincipal": alice.arn,
                "IssuingAccount": ROOT_ARN,
                "Operations": ["Encrypt"],
                "RetiringPrincipal": ROOT_ARN,
            },
        ],
        "Truncated": False,
    }


@pytest.mark.usefixtures("alice", "bob")
def test_list_grants_filters_by_grant_id_and_grantee(g: Grants, key: dict[str, Any], kms: Kms) -> None:
    first = create(g, key, ALICE_ARN)
    second = create(g, key, BOB_ARN)
    create(g, kms.create_key(), ALICE_ARN)
    assert [entry["GrantId"] for entry in g("ListGrants", KeyId=key["KeyId"])["Grants"]] == [first, second]
    assert [entry["GrantId"] for entry in g("ListGrants", KeyId=key["KeyId"], GrantId=second)["Grants"]] == [second]
    assert [entry["GrantId"] for entry in g("ListGrants", KeyId=key["KeyId"], GranteePrincipal=BOB_ARN)["Grants"]] == [
        second
    ]
    assert g("ListGrants", KeyId=key["KeyId"], GranteePrincipal=ROOT_ARN)["Grants"] == []
    assert g("ListGrants", KeyId=key["KeyId"], GranteeServicePrincipal="dynamodb.amazonaws.com")["Grants"] == []
    with aws_error("InvalidGrantIdException", "The request was rejected because the specified GrantId is not valid."):
        g("ListGrants", KeyId=key["KeyId"], GrantId="not-a-grant-id")


@pytest.mark.usefixtures("alice")
def test_list_grants_pages_with_limit_and_marker(g: Grants, key: dict[str, Any]) -> None:
    created = [create(g, key, ALICE_ARN) for _ in range(5)]  # one instant: ordered by grant id
    seen: list[str] = []
    page = g("ListGrants", KeyId=key["KeyId"], Limit=2)
    while True:
        seen += [entry["GrantId"] for entry in page["Grants"]]
        if not page["Truncated"]:
            break
        assert len(page["Grants"]) == 2
        page = g("ListGrants", KeyId=key["KeyId"], Limit=2, Marker=page["NextMarker"])
    assert seen == sorted(created)
    with aws_error("InvalidMarkerException"):
        g("ListGrants", KeyId=key["KeyId"], Marker=base64.urlsafe_b64encode(b"made up").decode())


@pytest.mark.usefixtures("alice")
def test_list_grants_works_in_every_key_state_but_not_with_an_alias(
    g: Grants, kms: Kms, key: dict[str, Any], store: SqliteStore
) -> None:
    grant_id = create(g, key, ALICE_ARN)
    kms("DisableKey", KeyId=key["KeyId"])
    assert [entry["GrantId"] for entry in g("ListGrants", KeyId=key["KeyId"])["Grants"]] == [grant_id]
    kms("ScheduleKeyDeletion", KeyId=key["KeyId"])
    assert [entry["GrantId"] for entry in g("ListGrants", KeyId=key["KeyId"])["Grants"]] == [grant_id]
    add_alias(store, key, "alias/listed")
    with aws_error("InvalidArnException", "Key Aliases are not supported for this operation."):
        g("ListGrants", KeyId="alias/listed")


# --- ListRetirableGrants ------------------------------------------------------------------------------------


@pytest.mark.usefixtures("alice", "carol")
def test_list_retirable_grants_lists_the_principals_grants_on_any_accounts_keys_in_the_region(
    g: Grants, kms: Kms, key: dict[str, Any], service: KmsService, clock: ManualClock
) -> None:
    # ListRetirableGrants: "The grants that are returned include grants for KMS keys in your AWS
    # account and other AWS accounts" ... "in the AWS account and Region".
    mine = create(g, key, ALICE_ARN, RetiringPrincipal=ALICE_ARN)
    create(g, key, ALICE_ARN, RetiringPrincipal=ROOT_ARN)
    create(g, key, ALICE_ARN)
    clock.advance(timedelta(seconds=1))
    other_caller = caller_for(OTHER_ACCOUNT)
    theirs_key = kms.as_caller(other_caller).create_key()
    theirs = create(Grants(service, other_caller), theirs_key, OTHER_USER_ARN, RetiringPrincipal=ALICE_ARN)
    elsewhere = caller_for(region="eu-west-1")
    far_key = kms.as_caller(elsewhere).create_key()
    create(Grants(service, elsewhere), far_key, ALICE_ARN, RetiringPrincipal=ALICE_ARN)
    listed = g("ListRetirableGrants", RetiringPrincipal=ALICE_ARN)
    assert [(entry["GrantId"], entry["KeyId"]) for entry in listed["Grants"]] == [
        (mine, key["Arn"]),
        (theirs, theirs_key["Arn"]),
    ]
    assert listed["Truncated"] is False
    assert listed["Grants"][1]["IssuingAccount"] == f"arn:aws:iam::{OTHER_ACCOUNT}:root"
    page = g("ListRetirableGrants", RetiringPrincipal=ALICE_ARN, Limit=1)
    assert page["Truncated"] is True
    rest = g("ListRetirableGrants", RetiringPrincipal=ALICE_ARN, Limit=1, Marker=page["NextMarker"])
    assert [entry["GrantId"] for entry in page["Grants"] + rest["Grants"]] == [mine, theirs]
    assert rest["Truncated"] is False
    assert g("ListRetirableGrants", RetiringServicePrincipal="dynamodb.amazonaws.com")["Grants"] == []
    with aws_error("ValidationException"):
        g("ListRetirableGrants")


# --- RetireGrant -------------------------------------------------------------------------------------------


def test_the_retiring_principal_retires_with_the_grant_token(
    g: Grants, key: dict[str, Any], carol: IamUser, bob: IamUser, store: SqliteStore
) -> None:
    response = g(
        "CreateGrant", KeyId=key["KeyId"], GranteePrincipal=carol.arn, RetiringPrincipal=bob.arn, Operations=["Decrypt"]
    )
    as_carol, as_bob = g.as_principal(user_principal(carol)), g.as_principal(user_principal(bob))
    # The grantee may not: the grant does not allow RetireGrant, and carol's account cannot delegate.
    with aws_error(
        "AccessDeniedException",
        f"User: {carol.arn} is not authorized to perform: kms:RetireGrant on resource: {key['Arn']} "
        "because no resource-based policy allows the kms:RetireGrant action",
    ):
        as_carol("RetireGrant", GrantToken=response["GrantToken"])
    # "Principals with permission can also use a grant token to retire a new grant" (Using a grant token).
    assert as_bob("RetireGrant", GrantToken=response["GrantToken"]) == {}
    assert store.get_grant(response["GrantId"]) is None
    with aws_error("NotFoundException", f"Grant ID {response['GrantId']} not found"):
        as_bob("RetireGrant", GrantToken=response["GrantToken"])


def test_the_grantee_retires_only_a_grant_that_allows_retire_grant(
    g: Grants, key: dict[str, Any], carol: IamUser, store: SqliteStore
) -> None:
    # "The grantee principal can also retire the grant, but only if they are also a retiring principal
    # or the grant includes the RetireGrant operation."
    as_carol = g.as_principal(user_principal(carol))
    plain = create(g, key, carol.arn, "Decrypt")
    with aws_error("AccessDeniedException"):
        as_carol("RetireGrant", KeyId=key["Arn"], GrantId=plain)
    retirable = create(g, key, carol.arn, "Decrypt", "RetireGrant")
    as_carol("RetireGrant", KeyId=key["Arn"], GrantId=retirable)
    retiring = create(g, key, carol.arn, "Decrypt", RetiringPrincipal=carol.arn)
    as_carol("RetireGrant", KeyId=key["Arn"], GrantId=retiring)
    assert [grant.grant_id for grant in store.list_grants(key["KeyId"], REGION)] == [plain]


def test_a_role_session_retires_grants_naming_its_role(
    g: Grants, key: dict[str, Any], alice: IamUser, app_role: IamRole, store: SqliteStore
) -> None:
    grant_id = create(g, key, alice.arn, RetiringPrincipal=app_role.arn)
    g.as_principal(session_principal(app_role, "cleanup"))("RetireGrant", KeyId=key["KeyId"], GrantId=grant_id)
    assert store.get_grant(grant_id) is None


def test_the_keys_account_retires_any_grant_and_other_accounts_none(
    g: Grants, kms: Kms, key: dict[str, Any], alice: IamUser, carol: IamUser, store: SqliteStore
) -> None:
    # "As a backup, the AWS account in which the grant was created can retire the grant."
    first, second = create(g, key, alice.arn), create(g, key, alice.arn)
    as_other_root = g.as_principal(Principal.root(OTHER_ACCOUNT))
    with aws_error("AccessDeniedException"):
        as_other_root("RetireGrant", KeyId=key["Arn"], GrantId=first)
    with aws_error("AccessDeniedException"):
        g.as_principal(user_principal(carol))("RetireGrant", KeyId=key["Arn"], GrantId=first)
    g("RetireGrant", KeyId=key["KeyId"], GrantId=first)
    # An IAM user of the key's account passes the grant's test: an identity policy allowing
    # kms:RetireGrant decides, in the authorizer ("Retiring and revoking grants").
    g.as_principal(user_principal(alice))("RetireGrant", KeyId=key["KeyId"], GrantId=second)
    assert store.list_grants(key["KeyId"], REGION) == []


def test_a_retiring_account_may_delegate_to_its_users(
    g: Grants, key: dict[str, Any], alice: IamUser, carol: IamUser, store: SqliteStore
) -> None:
    # "If the retiring principal is a different AWS account, administrators in the other account can
    # use kms:RetireGrant to delegate permission to retire the grant to an IAM user in that account."
    grant_id = create(g, key, alice.arn, RetiringPrincipal=f"arn:aws:iam::{OTHER_ACCOUNT}:root")
    g.as_principal(user_principal(carol))("RetireGrant", KeyId=key["Arn"], GrantId=grant_id)
    assert store.get_grant(grant_id) is None


@pytest.mark.usefixtures("alice")
def test_retire_grant_identifies_the_grant_by_token_or_key_and_id(
    g: Grants, kms: Kms, key: dict[str, Any], store: SqliteStore
) -> None:
    response = g("CreateGrant", KeyId=key["KeyId"], GranteePrincipal=ALICE_ARN, Operations=["Decrypt"])
    grant_id, token = response["GrantId"], response["GrantToken"]
    with aws_error("InvalidGrantTokenException"):
        g("RetireGrant", GrantToken=token[:-2])
    with aws_error("InvalidGrantIdException"):
        g("RetireGrant", KeyId=key["KeyId"], GrantId=grant_id.upper())
    with aws_error("InvalidGrantIdException"):
        g("RetireGrant", GrantToken=token, GrantId="f" * 64)
    with aws_error("ValidationException"):
        g("RetireGrant", GrantId=grant_id)
    with aws_error("ValidationException"):
        g("RetireGrant", KeyId=key["KeyId"])
    with aws_error("NotFoundException", f"Grant ID {grant_id} not found"):
        g("RetireGrant", KeyId=kms.create_key()["KeyId"], GrantId=grant_id)
    add_alias(store, key, "alias/retired")
    with aws_error("InvalidArnException", "Key Aliases are not supported for this operation."):
        g("RetireGrant", KeyId="alias/retired", GrantId=grant_id)
    with aws_error("DryRunOperationException"):
        g("RetireGrant", GrantToken=token, KeyId=key["Arn"], GrantId=grant_id, DryRun=True)
    assert g("RetireGrant", GrantToken=token, KeyId=key["Arn"], GrantId=grant_id) == {}


@pytest.mark.usefixtures("alice")
def test_retire_grant_works_in_every_key_state(g: Grants, kms: Kms, key: dict[str, Any], store: SqliteStore) -> None:
    first, second = create(g, key, ALICE_ARN), create(g, key, ALICE_ARN)
    kms("DisableKey", KeyId=key["KeyId"])
    g("RetireGrant", KeyId=key["KeyId"], GrantId=first)
    kms("ScheduleKeyDeletion", KeyId=key["KeyId"])
    g("RetireGrant", KeyId=key["KeyId"], GrantId=second)
    assert store.list_grants(key["KeyId"], REGION) == []


@pytest.mark.usefixtures("alice")
def test_a_token_of_a_grant_in_another_region_finds_nothing(g: Grants, kms: Kms, service: KmsService) -> None:
    elsewhere = caller_for(region="eu-west-1")
    far_key = kms.as_caller(elsewhere).create_key()
    token = Grants(service, elsewhere)(
        "CreateGrant", KeyId=far_key["KeyId"], GranteePrincipal=ALICE_ARN, Operations=["Decrypt"]
    )["GrantToken"]
    with aws_error("NotFoundException"):
        g("RetireGrant", GrantToken=token)


# --- RevokeGrant -------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("alice")
def test_revoke_grant_deletes_the_grant_in_any_key_state(
    g: Grants, kms: Kms, key: dict[str, Any], store: SqliteStore
) -> None:
    first, second = create(g, key, ALICE_ARN), create(g, key, ALICE_ARN)
    with aws_error("DryRunOperationException"):
        g("RevokeGrant", KeyId=key["KeyId"], GrantId=first, DryRun=True)
    assert g("RevokeGrant", KeyId=key["Arn"], GrantId=first) == {}
    kms("ScheduleKeyDeletion", KeyId=key["KeyId"])
    g("RevokeGrant", KeyId=key["KeyId"], GrantId=second)
    assert store.list_grants(key["KeyId"], REGION) == []


@pytest.mark.usefixtures("alice")
def test_revoke_grant_errors(g: Grants, kms: Kms, key: dict[str, Any]) -> None:
    grant_id = create(g, key, ALICE_ARN)
    with aws_error("InvalidGrantIdException", "The request was rejected because the specified GrantId is not valid."):
        g("RevokeGrant", KeyId=key["KeyId"], GrantId="x")
    with aws_error("NotFoundException", f"Grant ID {'0' * 64} not found"):
        g("RevokeGrant", KeyId=key["KeyId"], GrantId="0" * 64)
    with aws_error("NotFoundException", f"Grant ID {grant_id} not found"):
        g("RevokeGrant", KeyId=kms.create_key()["KeyId"], GrantId=grant_id)
    g("RevokeGrant", KeyId=key["KeyId"], GrantId=grant_id)
    with aws_error("NotFoundException", f"Grant ID {grant_id} not found"):
        g("RevokeGrant", KeyId=key["KeyId"], GrantId=grant_id)


# --- grants end with their key ----------------------------------------------------------------------------


@pytest.mark.usefixtures("alice")
def test_a_deleted_key_takes_its_grants_with_it(
    g: Grants, kms: Kms, key: dict[str, Any], service: KmsService, store: SqliteStore, clock: ManualClock
) -> None:
    grant_id = create(g, key, ALICE_ARN, RetiringPrincipal=ALICE_ARN)
    kms("ScheduleKeyDeletion", KeyId=key["KeyId"], PendingWindowInDays=7)
    clock.advance(timedelta(days=7, seconds=1))
    service.sweep()
    assert store.get_grant(grant_id) is None
    assert g("ListRetirableGrants", RetiringPrincipal=ALICE_ARN)["Grants"] == []

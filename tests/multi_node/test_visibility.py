"""Three nodes on one PostgreSQL are one service: what one node changes, every node honours within one second.

Every change case first makes each node answer the old way (so each has the record cached: the key, its
policy and grants, the alias, the caller's credentials and identity policies), then changes it through node 1,
asks node 1 once (the node that made the change honours it at once), and polls nodes 2 and 3 until they
honour it.  The latency is counted from the change's acknowledgement; the promise (one second) is asserted,
and the largest latency is printed at the end of the module (``pytest -s``).

Created records need no notification: a node reads the store on a cache miss, so a key, alias, grant or user
made on node 1 is used on node 2 by the very next request, even where node 2 has just been told it does not
exist.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.helpers import documents
from tests.multi_node.cluster import VISIBILITY_BOUND, Cluster, error_code

LATENCIES: dict[str, float] = {}
PLAINTEXT = b"visible everywhere"
ENCRYPT_ONLY = documents.policy(documents.allow("kms:Encrypt"))


@pytest.fixture(scope="module", autouse=True)
def report_latencies() -> Iterator[None]:
    yield
    if LATENCIES:
        worst = max(LATENCIES, key=LATENCIES.__getitem__)
        print(f"\nmulti-node visibility: max {LATENCIES[worst] * 1000:.1f} ms ({worst}); all: ", end="")
        print(", ".join(f"{case} {seconds * 1000:.1f} ms" for case, seconds in sorted(LATENCIES.items())))


class Clients:
    """One client per node and identity, made once (boto3 clients are slow to make)."""

    def __init__(self, service: Cluster) -> None:
        self.service = service
        self._made: dict[tuple[int, str, tuple[str, str] | None], Any] = {}

    def on(self, node: int, service: str = "kms", credentials: tuple[str, str] | None = None) -> Any:
        made = self._made.get((node, service, credentials))
        if made is None:
            made = self.service.client(self.service.nodes[node], service, credentials)
            self._made[(node, service, credentials)] = made
        return made


@pytest.fixture(scope="module")
def clients(three_nodes: Cluster) -> Clients:
    return Clients(three_nodes)


def honoured_everywhere(
    case: str, clients: Clients, change: Callable[[], None], honoured: Callable[[int], bool]
) -> None:
    """``honoured(node)`` is False on every node (which caches what the change is about), ``change()`` on node 1
    is honoured by node 1's next request and by every other node within the bound."""
    nodes = range(len(clients.service.nodes))
    for node in nodes:
        assert not honoured(node), f"{case}: node {node + 1} honours the change before it was made"
    change()
    changed_at = time.monotonic()
    assert honoured(0), f"{case}: the node that made the change does not honour it at once"
    pending = set(nodes) - {0}
    latencies: dict[int, float] = {}
    while pending:
        for node in sorted(pending):
            if honoured(node):
                latencies[node] = time.monotonic() - changed_at
                pending.discard(node)
        if time.monotonic() - changed_at > VISIBILITY_BOUND + 1:
            break
    assert not pending, f"{case}: nodes {sorted(n + 1 for n in pending)} still do not honour it"
    LATENCIES[case] = max(latencies.values())
    assert LATENCIES[case] <= VISIBILITY_BOUND, f"{case}: honoured after {latencies}"


def new_key(clients: Clients) -> str:
    return str(clients.on(0).create_key()["KeyMetadata"]["KeyId"])


def new_user(clients: Clients, name: str) -> tuple[str, tuple[str, str]]:
    """A user of the default account with an access key and no policy: its ARN and its credentials."""
    iam = clients.on(0, "iam")
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return str(arn), (str(key["AccessKeyId"]), str(key["SecretAccessKey"]))


def encrypt_error(clients: Clients, node: int, key_id: str, credentials: tuple[str, str] | None = None) -> str | None:
    kms = clients.on(node, credentials=credentials)
    return error_code(lambda: kms.encrypt(KeyId=key_id, Plaintext=PLAINTEXT))


def test_disable_key(clients: Clients) -> None:
    key_id = new_key(clients)
    honoured_everywhere(
        "DisableKey",
        clients,
        lambda: clients.on(0).disable_key(KeyId=key_id),
        lambda node: encrypt_error(clients, node, key_id) == "DisabledException",
    )


def test_schedule_key_deletion(clients: Clients) -> None:
    key_id = new_key(clients)
    honoured_everywhere(
        "ScheduleKeyDeletion",
        clients,
        lambda: clients.on(0).schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7),
        lambda node: encrypt_error(clients, node, key_id) == "KMSInvalidStateException",
    )


def test_put_key_policy_that_removes_the_callers_access(clients: Clients) -> None:
    key_id = new_key(clients)
    account = clients.on(0).describe_key(KeyId=key_id)["KeyMetadata"]["AWSAccountId"]
    deny_encrypt = {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "kms:Encrypt", "Resource": "*"}
    new_policy = documents.policy(documents.root_statement(account), deny_encrypt)
    honoured_everywhere(
        "PutKeyPolicy",
        clients,
        lambda: clients.on(0).put_key_policy(KeyId=key_id, PolicyName="default", Policy=new_policy),
        lambda node: encrypt_error(clients, node, key_id) == "AccessDeniedException",
    )


@pytest.mark.parametrize("end", ["RevokeGrant", "RetireGrant"])
def test_a_grant_that_ends(clients: Clients, end: str) -> None:
    arn, user = new_user(clients, f"grantee-{end}")
    key_id = new_key(clients)
    grant_id = clients.on(0).create_grant(KeyId=key_id, GranteePrincipal=arn, Operations=["Encrypt", "RetireGrant"])[
        "GrantId"
    ]

    def change() -> None:
        if end == "RevokeGrant":
            clients.on(0).revoke_grant(KeyId=key_id, GrantId=grant_id)
        else:
            clients.on(0, credentials=user).retire_grant(KeyId=key_id, GrantId=grant_id)

    honoured_everywhere(end, clients, change, lambda node: encrypt_error(clients, node, key_id, user) is not None)
    assert encrypt_error(clients, 1, key_id, user) == "AccessDeniedException"


def test_update_access_key_inactive(clients: Clients) -> None:
    _, user = new_user(clients, "goes-inactive")
    iam = clients.on(0, "iam")

    def refused(node: int) -> bool:
        kms = clients.on(node, credentials=user)
        code = error_code(lambda: kms.list_keys())
        assert code in ("AccessDeniedException", "UnrecognizedClientException"), code
        return code == "UnrecognizedClientException"

    honoured_everywhere(
        "UpdateAccessKey",
        clients,
        lambda: iam.update_access_key(UserName="goes-inactive", AccessKeyId=user[0], Status="Inactive"),
        refused,
    )


@pytest.mark.parametrize("change", ["DetachUserPolicy", "AttachUserPolicy"])
def test_attach_and_detach_user_policy(clients: Clients, change: str) -> None:
    name = f"policy-{change}"
    _, user = new_user(clients, name)
    iam = clients.on(0, "iam")
    policy_arn = iam.create_policy(PolicyName=f"encrypt-{change}", PolicyDocument=ENCRYPT_ONLY)["Policy"]["Arn"]
    key_id = new_key(clients)
    if change == "DetachUserPolicy":
        iam.attach_user_policy(UserName=name, PolicyArn=policy_arn)
        honoured_everywhere(
            change,
            clients,
            lambda: iam.detach_user_policy(UserName=name, PolicyArn=policy_arn),
            lambda node: encrypt_error(clients, node, key_id, user) == "AccessDeniedException",
        )
    else:
        honoured_everywhere(
            change,
            clients,
            lambda: iam.attach_user_policy(UserName=name, PolicyArn=policy_arn),
            lambda node: encrypt_error(clients, node, key_id, user) is None,
        )


def test_delete_alias(clients: Clients) -> None:
    key_id = new_key(clients)
    clients.on(0).create_alias(AliasName="alias/deleted-everywhere", TargetKeyId=key_id)
    honoured_everywhere(
        "DeleteAlias",
        clients,
        lambda: clients.on(0).delete_alias(AliasName="alias/deleted-everywhere"),
        lambda node: encrypt_error(clients, node, "alias/deleted-everywhere") == "NotFoundException",
    )


def test_update_alias(clients: Clients) -> None:
    first, second = new_key(clients), new_key(clients)
    clients.on(0).create_alias(AliasName="alias/moved-everywhere", TargetKeyId=first)

    def points_to_second(node: int) -> bool:
        answer = clients.on(node).encrypt(KeyId="alias/moved-everywhere", Plaintext=PLAINTEXT)
        return str(answer["KeyId"]).endswith(second)

    honoured_everywhere(
        "UpdateAlias",
        clients,
        lambda: clients.on(0).update_alias(AliasName="alias/moved-everywhere", TargetKeyId=second),
        points_to_second,
    )


# --- created records: the very next request on another node uses them -----------------------------------------


def test_a_key_created_on_node_1_is_usable_on_the_others_at_once(clients: Clients) -> None:
    for _ in range(5):
        key_id = new_key(clients)
        for node in (1, 2):
            ciphertext = clients.on(node).encrypt(KeyId=key_id, Plaintext=PLAINTEXT)["CiphertextBlob"]
            assert clients.on(0).decrypt(CiphertextBlob=ciphertext)["Plaintext"] == PLAINTEXT


def test_an_alias_created_on_node_1_is_usable_on_the_others_at_once(clients: Clients) -> None:
    key_id = new_key(clients)
    for index in range(5):
        alias = f"alias/created-{index}"
        # The other nodes were just told it does not exist: that must not be remembered.
        for node in (1, 2):
            assert encrypt_error(clients, node, alias) == "NotFoundException"
        clients.on(0).create_alias(AliasName=alias, TargetKeyId=key_id)
        for node in (1, 2):
            assert encrypt_error(clients, node, alias) is None, alias


def test_a_grant_created_on_node_1_is_usable_on_the_others_at_once(clients: Clients) -> None:
    arn, user = new_user(clients, "new-grantee")
    for _ in range(5):
        key_id = new_key(clients)
        # The grantee was just refused on the other nodes: their caches hold the key without the grant.
        for node in (1, 2):
            assert encrypt_error(clients, node, key_id, user) == "AccessDeniedException"
        clients.on(0).create_grant(KeyId=key_id, GranteePrincipal=arn, Operations=["Encrypt"])
        for node in (1, 2):
            assert encrypt_error(clients, node, key_id, user) is None


def test_a_user_created_on_node_1_is_usable_on_the_others_at_once(clients: Clients) -> None:
    key_id = new_key(clients)
    iam = clients.on(0, "iam")
    policy_arn = iam.create_policy(PolicyName="encrypt-new-users", PolicyDocument=ENCRYPT_ONLY)["Policy"]["Arn"]
    for index in range(5):
        name = f"new-user-{index}"
        _, user = new_user(clients, name)
        iam.attach_user_policy(UserName=name, PolicyArn=policy_arn)
        for node in (1, 2):
            assert encrypt_error(clients, node, key_id, user) is None


@pytest.mark.parametrize("change", ["DeleteUserPolicy", "RemoveUserFromGroup"])
def test_inline_policy_and_group_membership(clients: Clients, change: str) -> None:
    name = f"identity-{change}"
    _, user = new_user(clients, name)
    iam = clients.on(0, "iam")
    key_id = new_key(clients)
    if change == "DeleteUserPolicy":
        iam.put_user_policy(UserName=name, PolicyName="encrypt", PolicyDocument=ENCRYPT_ONLY)
        make = lambda: iam.delete_user_policy(UserName=name, PolicyName="encrypt")  # noqa: E731
    else:
        iam.create_group(GroupName=f"group-{change}")
        iam.put_group_policy(GroupName=f"group-{change}", PolicyName="encrypt", PolicyDocument=ENCRYPT_ONLY)
        iam.add_user_to_group(GroupName=f"group-{change}", UserName=name)
        make = lambda: iam.remove_user_from_group(GroupName=f"group-{change}", UserName=name)  # noqa: E731
    honoured_everywhere(
        change, clients, make, lambda node: encrypt_error(clients, node, key_id, user) == "AccessDeniedException"
    )


def test_a_rotation_on_node_1_decrypts_on_the_others_at_once(clients: Clients) -> None:
    key_id = new_key(clients)
    for node in (1, 2):  # the key and its first material cached there
        clients.on(node).encrypt(KeyId=key_id, Plaintext=PLAINTEXT)
    for _ in range(3):
        clients.on(0).rotate_key_on_demand(KeyId=key_id)
        ciphertext = clients.on(0).encrypt(KeyId=key_id, Plaintext=PLAINTEXT)["CiphertextBlob"]
        for node in (1, 2):
            assert clients.on(node).decrypt(CiphertextBlob=ciphertext)["Plaintext"] == PLAINTEXT


def test_a_session_issued_on_node_1_is_usable_on_the_others_at_once(clients: Clients) -> None:
    iam = clients.on(0, "iam")
    user_arn, user = new_user(clients, "assumes-roles")
    iam.put_user_policy(
        UserName="assumes-roles",
        PolicyName="assume",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}
        ),
    )
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "sts:AssumeRole"}],
    }
    role_arn = iam.create_role(RoleName="assumed-everywhere", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName="assumed-everywhere", PolicyName="encrypt", PolicyDocument=ENCRYPT_ONLY)
    key_id = new_key(clients)
    sts = clients.on(0, "sts", credentials=user)
    for index in range(3):
        issued = sts.assume_role(RoleArn=role_arn, RoleSessionName=f"session-{index}")["Credentials"]
        for node in (1, 2):
            kms = clients.service.client(
                clients.service.nodes[node],
                credentials=(issued["AccessKeyId"], issued["SecretAccessKey"]),
                token=issued["SessionToken"],
            )
            assert error_code(lambda kms=kms: kms.encrypt(KeyId=key_id, Plaintext=PLAINTEXT)) is None

"""CreateAlias, UpdateAlias, DeleteAlias and ListAliases with AWS's alias rules."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kmsd.clock import ManualClock
from kmsd.kms.aws_managed_keys import PREDEFINED_ALIASES

from .aws_errors import aws_error
from .conftest import ACCOUNT, OTHER_ACCOUNT, REGION, Kms, caller_for, customer_aliases

ALIAS_PREFIX_MESSAGE = (
    'Alias must start with the prefix "alias/". Please see '
    "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html"
)


def alias_arn(name: str, account: str = ACCOUNT, region: str = REGION) -> str:
    return f"arn:aws:kms:{region}:{account}:{name}"


def test_create_alias_by_key_id_and_by_key_arn(kms: Kms, clock: ManualClock) -> None:
    metadata = kms.create_key()
    assert kms("CreateAlias", AliasName="alias/by-id", TargetKeyId=metadata["KeyId"]) == {}
    kms("CreateAlias", AliasName="alias/team/by_arn", TargetKeyId=metadata["Arn"])
    listed = kms("ListAliases")
    assert customer_aliases(listed) == [
        {
            "AliasName": name,
            "AliasArn": alias_arn(name),
            "TargetKeyId": metadata["KeyId"],
            "CreationDate": clock.now(),
            "LastUpdatedDate": clock.now(),
        }
        for name in ("alias/by-id", "alias/team/by_arn")
    ]
    assert listed["Truncated"] is False


def test_create_alias_name_rules(kms: Kms) -> None:
    key_id = kms.create_key()["KeyId"]
    with aws_error("ValidationException", ALIAS_PREFIX_MESSAGE):
        kms("CreateAlias", AliasName="payroll", TargetKeyId=key_id)
    with aws_error("ValidationException", "alias/a:b contains invalid characters for an alias"):
        kms("CreateAlias", AliasName="alias/a:b", TargetKeyId=key_id)
    with aws_error(
        "ValidationException",
        "1 validation error detected: Value 'alias/' at 'aliasName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: ^alias/[a-zA-Z0-9/_-]+$",
    ):
        kms("CreateAlias", AliasName="alias/", TargetKeyId=key_id)
    assert customer_aliases(kms("ListAliases")) == []


@pytest.mark.parametrize("operation", ["CreateAlias", "UpdateAlias"])
def test_aws_reserved_aliases_cannot_be_created_or_changed(kms: Kms, operation: str) -> None:
    key_id = kms.create_key()["KeyId"]
    with aws_error("NotAuthorizedException"):
        kms(operation, AliasName="alias/aws/s3", TargetKeyId=key_id)


def test_aws_reserved_aliases_cannot_be_deleted(kms: Kms) -> None:
    with aws_error("KMSInvalidStateException", "The alias alias/aws/s3 is a AWS managed alias and cannot be deleted."):
        kms("DeleteAlias", AliasName="alias/aws/s3")


def test_create_alias_that_exists(kms: Kms) -> None:
    first, second = kms.create_key()["KeyId"], kms.create_key()["KeyId"]
    kms("CreateAlias", AliasName="alias/taken", TargetKeyId=first)
    with aws_error("AlreadyExistsException", f"An alias with the name {alias_arn('alias/taken')} already exists"):
        kms("CreateAlias", AliasName="alias/taken", TargetKeyId=second)
    assert kms("DescribeKey", KeyId="alias/taken")["KeyMetadata"]["KeyId"] == first


def test_alias_names_are_per_account_and_region(kms: Kms) -> None:
    kms("CreateAlias", AliasName="alias/same", TargetKeyId=kms.create_key()["KeyId"])
    for other in (kms.as_caller(caller_for(OTHER_ACCOUNT)), kms.as_caller(caller_for(region="eu-west-1"))):
        other("CreateAlias", AliasName="alias/same", TargetKeyId=other.create_key()["KeyId"])
        assert [entry["AliasName"] for entry in customer_aliases(other("ListAliases"))] == ["alias/same"]


def test_alias_target_must_be_a_key_not_an_alias(kms: Kms) -> None:
    key_id = kms.create_key()["KeyId"]
    kms("CreateAlias", AliasName="alias/first", TargetKeyId=key_id)
    for target in ("alias/first", alias_arn("alias/first")):
        with aws_error("ValidationException", "Aliases must refer to keys. Not aliases"):
            kms("CreateAlias", AliasName="alias/second", TargetKeyId=target)


def test_alias_target_must_exist_in_the_callers_account_and_region(kms: Kms) -> None:
    missing = "1234abcd-12ab-34cd-56ef-1234567890ab"
    with aws_error("NotFoundException", f"Key 'arn:aws:kms:{REGION}:{ACCOUNT}:key/{missing}' does not exist"):
        kms("CreateAlias", AliasName="alias/x", TargetKeyId=missing)
    foreign = kms.as_caller(caller_for(OTHER_ACCOUNT)).create_key()
    with aws_error("NotFoundException", f"Key 'arn:aws:kms:{REGION}:{ACCOUNT}:key/{foreign['KeyId']}' does not exist"):
        kms("CreateAlias", AliasName="alias/x", TargetKeyId=foreign["Arn"])
    elsewhere = kms.as_caller(caller_for(region="eu-west-1")).create_key()
    with aws_error("NotFoundException", "Invalid arn eu-west-1"):
        kms("CreateAlias", AliasName="alias/x", TargetKeyId=elsewhere["Arn"])
    assert customer_aliases(kms("ListAliases")) == []


def test_alias_target_pending_deletion(kms: Kms) -> None:
    metadata = kms.create_key()
    kms("ScheduleKeyDeletion", KeyId=metadata["KeyId"])
    with aws_error("KMSInvalidStateException", f"{metadata['Arn']} is pending deletion."):
        kms("CreateAlias", AliasName="alias/x", TargetKeyId=metadata["KeyId"])


def test_alias_to_a_disabled_key(kms: Kms) -> None:
    key_id = kms.create_key()["KeyId"]
    kms("DisableKey", KeyId=key_id)
    kms("CreateAlias", AliasName="alias/x", TargetKeyId=key_id)
    assert kms("DescribeKey", KeyId="alias/x")["KeyMetadata"]["KeyState"] == "Disabled"


def test_update_alias_moves_it_to_another_key(kms: Kms, clock: ManualClock) -> None:
    first, second = kms.create_key()["KeyId"], kms.create_key()["KeyId"]
    kms("CreateAlias", AliasName="alias/current", TargetKeyId=first)
    created = clock.now()
    clock.advance(timedelta(hours=1))
    assert kms("UpdateAlias", AliasName="alias/current", TargetKeyId=second) == {}
    assert kms("DescribeKey", KeyId="alias/current")["KeyMetadata"]["KeyId"] == second
    (entry,) = customer_aliases(kms("ListAliases"))
    assert (entry["TargetKeyId"], entry["CreationDate"], entry["LastUpdatedDate"]) == (
        second,
        created,
        clock.now(),
    )


def test_update_alias_that_does_not_exist(kms: Kms) -> None:
    key_id = kms.create_key()["KeyId"]
    with aws_error("NotFoundException", f"Alias {alias_arn('alias/missing')} is not found."):
        kms("UpdateAlias", AliasName="alias/missing", TargetKeyId=key_id)


def test_update_alias_new_target_pending_deletion(kms: Kms) -> None:
    current, doomed = kms.create_key(), kms.create_key()
    kms("CreateAlias", AliasName="alias/a", TargetKeyId=current["KeyId"])
    kms("ScheduleKeyDeletion", KeyId=doomed["KeyId"])
    with aws_error("KMSInvalidStateException", f"{doomed['Arn']} is pending deletion."):
        kms("UpdateAlias", AliasName="alias/a", TargetKeyId=doomed["KeyId"])
    # The alias of a key pending deletion may still be moved away from it.
    kms("ScheduleKeyDeletion", KeyId=current["KeyId"])
    fresh = kms.create_key()["KeyId"]
    kms("UpdateAlias", AliasName="alias/a", TargetKeyId=fresh)
    assert kms("DescribeKey", KeyId="alias/a")["KeyMetadata"]["KeyId"] == fresh


def test_delete_alias(kms: Kms) -> None:
    key_id = kms.create_key()["KeyId"]
    kms("CreateAlias", AliasName="alias/gone", TargetKeyId=key_id)
    assert kms("DeleteAlias", AliasName="alias/gone") == {}
    assert customer_aliases(kms("ListAliases")) == []
    assert kms("DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    with aws_error("NotFoundException", f"Alias {alias_arn('alias/gone')} is not found."):
        kms("DeleteAlias", AliasName="alias/gone")
    with aws_error("ValidationException", ALIAS_PREFIX_MESSAGE):
        kms("DeleteAlias", AliasName="gone")


def test_delete_alias_of_a_key_pending_deletion(kms: Kms) -> None:
    key_id = kms.create_key()["KeyId"]
    kms("CreateAlias", AliasName="alias/a", TargetKeyId=key_id)
    kms("ScheduleKeyDeletion", KeyId=key_id)
    kms("DeleteAlias", AliasName="alias/a")
    assert customer_aliases(kms("ListAliases")) == []


def test_list_aliases_filtered_by_key(kms: Kms) -> None:
    first, second = kms.create_key(), kms.create_key()
    kms("CreateAlias", AliasName="alias/b", TargetKeyId=first["KeyId"])
    kms("CreateAlias", AliasName="alias/a", TargetKeyId=second["KeyId"])
    kms("CreateAlias", AliasName="alias/c", TargetKeyId=first["KeyId"])
    for spelling in (first["KeyId"], first["Arn"]):
        names = [entry["AliasName"] for entry in kms("ListAliases", KeyId=spelling)["Aliases"]]
        assert names == ["alias/b", "alias/c"]
    with aws_error("ValidationException", "Aliases must refer to keys. Not aliases"):
        kms("ListAliases", KeyId="alias/a")
    missing = "1234abcd-12ab-34cd-56ef-1234567890ab"
    with aws_error("NotFoundException", f"Key 'arn:aws:kms:{REGION}:{ACCOUNT}:key/{missing}' does not exist"):
        kms("ListAliases", KeyId=missing)


def test_list_aliases_pages(kms: Kms) -> None:
    key_id = kms.create_key()["KeyId"]
    names = [f"alias/n{i:02d}" for i in range(7)]
    for name in reversed(names):
        kms("CreateAlias", AliasName=name, TargetKeyId=key_id)
    seen: list[str] = []
    marker = None
    while True:
        params = {"Limit": 3} if marker is None else {"Limit": 3, "Marker": marker}
        page = kms("ListAliases", **params)
        seen += [entry["AliasName"] for entry in page["Aliases"]]
        if not page["Truncated"]:
            assert "NextMarker" not in page
            break
        marker = page["NextMarker"]
    # The predefined alias/aws/ aliases are listed too, in name order.
    assert seen == sorted([*names, *PREDEFINED_ALIASES])
    with aws_error("InvalidMarkerException"):
        kms("ListAliases", Marker="not-a-marker")


def test_list_aliases_defaults_to_50_and_caps_limit_at_100(kms: Kms) -> None:
    key_id = kms.create_key()["KeyId"]
    for i in range(101):
        kms("CreateAlias", AliasName=f"alias/n{i:03d}", TargetKeyId=key_id)
    default = kms("ListAliases")
    assert (len(default["Aliases"]), default["Truncated"]) == (50, True)
    capped = kms("ListAliases", Limit=1000)
    assert (len(capped["Aliases"]), capped["Truncated"]) == (100, True)

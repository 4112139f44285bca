"""TagResource, UntagResource and ListResourceTags with AWS's tag rules."""

from __future__ import annotations

import pytest

from .aws_errors import aws_error
from .conftest import Kms


def tags(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"TagKey": key, "TagValue": value} for key, value in pairs]


def test_tag_untag_and_list(kms: Kms) -> None:
    key_id = kms.create_key(Tags=tags(("team", "payments")))["KeyId"]
    assert kms("TagResource", KeyId=key_id, Tags=tags(("env", "prod"), ("team", "billing"))) == {}
    listed = kms("ListResourceTags", KeyId=key_id)
    assert listed == {"Tags": tags(("env", "prod"), ("team", "billing")), "Truncated": False}
    assert kms("UntagResource", KeyId=key_id, TagKeys=["team", "not-there"]) == {}
    assert kms("ListResourceTags", KeyId=key_id)["Tags"] == tags(("env", "prod"))


def test_tag_key_and_value_lengths(kms: Kms) -> None:
    key_id = kms.create_key()["KeyId"]
    kms("TagResource", KeyId=key_id, Tags=tags(("k" * 128, "v" * 256), ("empty", "")))
    long_key = "k" * 129
    with aws_error(
        "ValidationException",
        f"1 validation error detected: Value '{long_key}' at 'tags.1.member.tagKey' failed to satisfy "
        "constraint: Member must have length less than or equal to 128",
    ):
        kms("TagResource", KeyId=key_id, Tags=tags((long_key, "v")))
    with aws_error(
        "ValidationException",
        "1 validation error detected: Value '' at 'tags.2.member.tagKey' failed to satisfy "
        "constraint: Member must have length greater than or equal to 1",
    ):
        kms("TagResource", KeyId=key_id, Tags=tags(("ok", "v"), ("", "v")))
    with aws_error("ValidationException"):
        kms("TagResource", KeyId=key_id, Tags=tags(("ok", "v" * 257)))
    assert len(kms("ListResourceTags", KeyId=key_id)["Tags"]) == 2


@pytest.mark.parametrize("reserved", ["aws:createdBy", "AWS:x", "Aws:y"])
def test_aws_prefix_is_reserved(kms: Kms, reserved: str) -> None:
    key_id = kms.create_key()["KeyId"]
    with aws_error("TagException", "Tags beginning with aws: are reserved"):
        kms("TagResource", KeyId=key_id, Tags=tags((reserved, "v")))
    with aws_error("TagException", "Tags beginning with aws: are reserved"):
        kms("UntagResource", KeyId=key_id, TagKeys=[reserved])


def test_duplicate_tag_keys(kms: Kms) -> None:
    key_id = kms.create_key()["KeyId"]
    with aws_error("TagException", "Duplicate tag keys"):
        kms("TagResource", KeyId=key_id, Tags=tags(("a", "1"), ("a", "2")))
    assert kms("ListResourceTags", KeyId=key_id)["Tags"] == []


def test_at_most_50_tags_per_key(kms: Kms) -> None:
    fifty = tags(*[(f"k{i:02d}", "v") for i in range(50)])
    key_id = kms.create_key(Tags=fifty)["KeyId"]
    kms("TagResource", KeyId=key_id, Tags=tags(("k00", "replaced")))  # replacing does not add
    with aws_error("TagException", "Too many tags"):
        kms("TagResource", KeyId=key_id, Tags=tags(("one-more", "v")))
    with aws_error("TagException", "Too many tags"):
        kms.create_key(Tags=[*fifty, {"TagKey": "k50", "TagValue": "v"}])


def test_tagging_a_key_pending_deletion(kms: Kms) -> None:
    metadata = kms.create_key(Tags=tags(("a", "1")))
    kms("ScheduleKeyDeletion", KeyId=metadata["KeyId"])
    with aws_error("KMSInvalidStateException", f"{metadata['Arn']} is pending deletion."):
        kms("TagResource", KeyId=metadata["KeyId"], Tags=tags(("b", "2")))
    with aws_error("KMSInvalidStateException", f"{metadata['Arn']} is pending deletion."):
        kms("UntagResource", KeyId=metadata["KeyId"], TagKeys=["a"])
    assert kms("ListResourceTags", KeyId=metadata["KeyId"])["Tags"] == tags(("a", "1"))


def test_list_resource_tags_pages_at_most_50(kms: Kms) -> None:
    key_id = kms.create_key(Tags=tags(*[(f"k{i:02d}", str(i)) for i in range(7)]))["KeyId"]
    first = kms("ListResourceTags", KeyId=key_id, Limit=4)
    assert [tag["TagKey"] for tag in first["Tags"]] == ["k00", "k01", "k02", "k03"]
    assert first["Truncated"] is True
    rest = kms("ListResourceTags", KeyId=key_id, Limit=4, Marker=first["NextMarker"])
    assert [tag["TagKey"] for tag in rest["Tags"]] == ["k04", "k05", "k06"]
    assert rest["Truncated"] is False
    other_key = kms.create_key()["KeyId"]
    with aws_error("InvalidMarkerException"):
        kms("ListResourceTags", KeyId=other_key, Marker=first["NextMarker"])


def test_tag_operations_on_a_missing_key(kms: Kms) -> None:
    with aws_error("NotFoundException", "Invalid keyId 'nope'"):
        kms("TagResource", KeyId="nope", Tags=tags(("a", "b")))

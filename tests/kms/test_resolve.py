"""Parsing the four spellings of KeyId, and require_enabled for the cryptographic operations."""

from __future__ import annotations

import pytest

from kmsd.kms.resolve import KeyReference, parse_key_reference, require_enabled
from kmsd.kms.service import KmsService

from .aws_errors import aws_error
from .conftest import ACCOUNT, OTHER_ACCOUNT, REGION, Kms, caller_for

KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        (KEY_ID, KeyReference(ACCOUNT, REGION, key_id=KEY_ID)),
        (KEY_ID.upper(), KeyReference(ACCOUNT, REGION, key_id=KEY_ID)),
        (
            f"arn:aws:kms:{REGION}:{OTHER_ACCOUNT}:key/{KEY_ID}",
            KeyReference(OTHER_ACCOUNT, REGION, key_id=KEY_ID),
        ),
        ("alias/app/db", KeyReference(ACCOUNT, REGION, alias_name="alias/app/db")),
        (
            f"arn:aws:kms:{REGION}:{OTHER_ACCOUNT}:alias/x",
            KeyReference(OTHER_ACCOUNT, REGION, alias_name="alias/x"),
        ),
        (f"arn:aws-us-gov:kms:{REGION}:{ACCOUNT}:key/{KEY_ID}", KeyReference(ACCOUNT, REGION, key_id=KEY_ID)),
    ],
)
def test_parse_key_reference(spelling: str, expected: KeyReference) -> None:
    assert parse_key_reference(caller_for(), spelling) == expected


def test_reference_arns() -> None:
    assert KeyReference(ACCOUNT, REGION, key_id=KEY_ID).arn == f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{KEY_ID}"
    assert KeyReference(ACCOUNT, REGION, alias_name="alias/x").arn == f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/x"


@pytest.mark.parametrize("spelling", ["", "1234", f"{KEY_ID}x", "key/" + KEY_ID, "Alias/x"])
def test_unrecognised_key_ids_are_not_found(spelling: str) -> None:
    with aws_error("NotFoundException", f"Invalid keyId '{spelling}'"):
        parse_key_reference(caller_for(), spelling)


def test_alias_arn_without_a_name_is_invalid() -> None:
    arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/"
    with aws_error("InvalidArnException", f"Invalid arn {arn}"):
        parse_key_reference(caller_for(), arn)


def test_require_enabled(kms: Kms, service: KmsService) -> None:
    metadata = kms.create_key()
    store = service.context.store
    key = store.get_key(metadata["KeyId"], REGION)
    assert key is not None
    require_enabled(key)
    kms("DisableKey", KeyId=metadata["KeyId"])
    disabled = store.get_key(metadata["KeyId"], REGION)
    assert disabled is not None
    with aws_error("DisabledException", f"{metadata['Arn']} is disabled."):
        require_enabled(disabled)
    kms("ScheduleKeyDeletion", KeyId=metadata["KeyId"])
    pending = store.get_key(metadata["KeyId"], REGION)
    assert pending is not None
    with aws_error("KMSInvalidStateException", f"{metadata['Arn']} is pending deletion."):
        require_enabled(pending)

"""The read-only console user of the founding document, and principals the console must tell why they are denied.

The read-only user holds exactly the policy of "Allow a User Read-Only Access to All CMKs through the AWS KMS
Console": it sees every key (customer managed and AWS managed), its configuration and its policy, and every change
control is disabled with the missing permission said beside it.  ``kms_reader`` has that policy's KMS actions but not
iam:ListUsers or iam:ListRoles, so the wizard's pickers say why they are empty; one key's policy denies it
kms:DescribeKey explicitly, so that key's page shows AWS's error and the authorizer's "Why?".  boto3 confirms each
premise."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError
from playwright.sync_api import Page, expect

from tests.console.conftest import Console
from tests.console.console_ui import assert_disabled_with_reason, open_route, open_tab, sign_in
from tests.console.principals import ACCOUNT_ID
from tests.helpers.documents import root_statement


@dataclass(frozen=True)
class Keys:
    symmetric: str  # with an alias and a description
    asymmetric: str  # RSA_2048, SIGN_VERIFY
    hmac: str
    hidden: str  # its policy denies kms_reader kms:DescribeKey
    aws_managed: str  # behind alias/aws/ebs

    @property
    def all(self) -> list[str]:
        return [self.symmetric, self.asymmetric, self.hmac, self.hidden]


ALIAS = "alias/read-only-payments"
DESCRIPTION = "payments data key, seen read-only"


def hiding_policy(denied_arn: str) -> str:
    """The default key policy plus an explicit deny of kms:DescribeKey to ``denied_arn``."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                root_statement(ACCOUNT_ID),
                {
                    "Sid": "Hide this key from the reader",
                    "Effect": "Deny",
                    "Principal": {"AWS": denied_arn},
                    "Action": "kms:DescribeKey",
                    "Resource": "*",
                },
            ],
        }
    )


@pytest.fixture(scope="module")
def keys(console: Console) -> Keys:
    kms = console.kms
    symmetric = kms.create_key(Description=DESCRIPTION)["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=ALIAS, TargetKeyId=symmetric)
    asymmetric = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    hmac = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    hidden = kms.create_key(Policy=hiding_policy(console.principals.kms_reader.arn))["KeyMetadata"]["KeyId"]
    aws_managed = kms.describe_key(KeyId="alias/aws/ebs")["KeyMetadata"]  # DescribeKey creates it, as in AWS
    assert aws_managed["KeyManager"] == "AWS"
    return Keys(symmetric, asymmetric, hmac, hidden, aws_managed["KeyId"])


def error_code(call: Any, **params: Any) -> str:
    with pytest.raises(ClientError) as raised:
        call(**params)
    code: str = raised.value.response["Error"]["Code"]
    return code


def test_the_read_only_user_sees_every_key(console: Console, keys: Keys, page: Page) -> None:
    listed = console.client("kms", console.principals.read_only).list_keys()["Keys"]
    assert sorted(key["KeyId"] for key in listed) == sorted([*keys.all, keys.aws_managed])

    sign_in(page, console.principals.read_only)
    open_route(page, "#/keys")
    rows = page.locator("#keys-table tr[data-key-id]")
    expect(rows).to_have_count(len(keys.all))
    for key_id in keys.all:
        row = page.locator(f"#keys-table tr[data-key-id='{key_id}']")
        expect(row.locator(f"a[href='#/keys/{key_id}']")).to_be_visible()
        expect(row).to_contain_text(key_id)
        expect(row).to_contain_text("Enabled")
    expect(page.locator(f"tr[data-key-id='{keys.symmetric}']")).to_contain_text(ALIAS.removeprefix("alias/"))
    expect(page.locator(f"tr[data-key-id='{keys.symmetric}']")).to_contain_text("SYMMETRIC_DEFAULT")
    asymmetric = page.locator(f"tr[data-key-id='{keys.asymmetric}']")
    expect(asymmetric).to_contain_text("RSA_2048")
    expect(asymmetric).to_contain_text("SIGN_VERIFY")
    expect(page.locator(f"tr[data-key-id='{keys.hmac}']")).to_contain_text("GENERATE_VERIFY_MAC")
    expect(page.locator("#keys-table th")).to_have_count(7)

    page.click("a[href='#/aws-keys']")
    expect(page).to_have_url(re.compile(r"#/aws-keys$"))
    aws_row = page.locator(f"#keys-table tr[data-key-id='{keys.aws_managed}']")
    expect(aws_row).to_contain_text("aws/ebs")
    expect(rows).to_have_count(1)
    expect(page.locator("#create-key")).to_have_count(0)


def test_the_read_only_user_sees_a_keys_configuration_and_policy(console: Console, keys: Keys, page: Page) -> None:
    reader = console.client("kms", console.principals.read_only)
    metadata = reader.describe_key(KeyId=keys.symmetric)["KeyMetadata"]
    policy = reader.get_key_policy(KeyId=keys.symmetric, PolicyName="default")["Policy"]

    sign_in(page, console.principals.read_only)
    open_route(page, "#/keys")
    page.click(f"a[href='#/keys/{keys.symmetric}']")
    expect(page).to_have_url(re.compile(f"#/keys/{keys.symmetric}$"))
    expect(page.locator("h1")).to_contain_text(ALIAS.removeprefix("alias/"))
    expect(page.locator("#key-status")).to_have_text("Enabled")
    expect(page.locator("#key-arn")).to_have_text(metadata["Arn"])
    expect(page.locator("#key-description")).to_contain_text(DESCRIPTION)

    open_tab(page, "Key policy")
    expect(page.locator("#policy-readable")).to_be_visible()
    expect(page.locator("#policy-readable")).to_contain_text(ACCOUNT_ID)
    shown = page.locator("#policy-json")
    expect(shown).to_contain_text("Enable IAM User Permissions")
    assert json.loads(shown.inner_text()) == json.loads(policy)


def test_the_read_only_users_change_controls_are_disabled_with_the_reason(
    console: Console, keys: Keys, page: Page
) -> None:
    reader = console.client("kms", console.principals.read_only)
    assert error_code(reader.disable_key, KeyId=keys.symmetric) == "AccessDeniedException"
    assert error_code(reader.create_key) == "AccessDeniedException"

    sign_in(page, console.principals.read_only)
    open_route(page, "#/keys")
    assert_disabled_with_reason(page, "#create-key", "kms:CreateKey")

    open_route(page, f"#/keys/{keys.symmetric}")
    expect(page.locator("#key-status")).to_have_text("Enabled")
    assert_disabled_with_reason(page, "#disable-key", "kms:DisableKey")
    assert_disabled_with_reason(page, "#schedule-deletion", "kms:ScheduleKeyDeletion")
    assert_disabled_with_reason(page, "#save-description", "kms:UpdateKeyDescription")

    open_tab(page, "Rotation")
    assert_disabled_with_reason(page, "#save-rotation", "kms:EnableKeyRotation")
    expect(page.locator("#rotation-enabled")).to_be_disabled()
    assert_disabled_with_reason(page, "#rotate-now", "kms:RotateKeyOnDemand")
    open_tab(page, "Tags")
    assert_disabled_with_reason(page, "#add-tag", "kms:TagResource")
    open_tab(page, "Aliases")
    assert_disabled_with_reason(page, "#create-alias", "kms:CreateAlias")
    open_tab(page, "Key policy")
    assert_disabled_with_reason(page, "#edit-policy", "kms:PutKeyPolicy")


def test_the_read_only_users_wizard_lists_the_accounts_users(console: Console, keys: Keys, page: Page) -> None:
    names = [user["UserName"] for user in console.client("iam", console.principals.read_only).list_users()["Users"]]
    assert console.principals.power_user.user_name in names

    sign_in(page, console.principals.read_only)
    open_route(page, "#/create")
    page.click("#wizard-next")  # key type
    page.click("#wizard-next")  # labels
    power_user = console.principals.power_user.arn
    expect(page.locator(f"#admins-list input[type=checkbox][value='{power_user}']")).to_be_visible()
    expect(page.locator("#admins-empty-reason")).to_have_count(0)
    page.click("#wizard-next")
    expect(page.locator(f"#users-list input[type=checkbox][value='{power_user}']")).to_be_visible()


def test_without_iam_list_users_the_wizards_pickers_say_why_they_are_empty(
    console: Console, keys: Keys, page: Page
) -> None:
    iam = console.client("iam", console.principals.kms_reader)
    assert error_code(iam.list_users) == "AccessDenied"
    assert error_code(iam.list_roles) == "AccessDenied"

    sign_in(page, console.principals.kms_reader)
    open_route(page, "#/create")
    page.click("#wizard-next")
    page.click("#wizard-next")
    empty = page.locator("#admins-empty-reason")
    expect(empty).to_be_visible()
    expect(empty).to_contain_text("iam:ListUsers")
    # IAM's refusal explains itself too: the "Why?" panel shows the identity policies that allowed nothing.
    why = empty.locator("details.why").first
    why.locator("summary").click()
    expect(why).to_contain_text("iam:ListUsers")
    expect(page.locator("#admins-list input[type=checkbox]")).to_have_count(0)
    page.click("#wizard-next")
    expect(page.locator("#users-empty-reason")).to_be_visible()
    expect(page.locator("#users-empty-reason")).to_contain_text("iam:ListUsers")


def test_a_denied_call_shows_the_error_and_why(console: Console, keys: Keys, page: Page) -> None:
    reader = console.client("kms", console.principals.kms_reader)
    assert error_code(reader.describe_key, KeyId=keys.hidden) == "AccessDeniedException"
    reader.describe_key(KeyId=keys.symmetric)

    sign_in(page, console.principals.kms_reader)
    open_route(page, "#/keys")
    expect(page.locator(f"#keys-table tr[data-key-id='{keys.hidden}']")).to_be_visible()
    open_route(page, f"#/keys/{keys.hidden}")
    error = page.locator(".call-error").first
    expect(error).to_be_visible()
    expect(error).to_have_attribute("role", "alert")
    expect(error).to_contain_text("AccessDeniedException")
    expect(error).to_contain_text("kms:DescribeKey")
    why = error.locator("details.why")
    expect(why.locator("summary")).to_have_text("Why?")
    why.locator("summary").click()
    expect(why).to_have_attribute("open", "")
    expect(why).to_contain_text("kms:DescribeKey")
    expect(why).to_contain_text(f"key/{keys.hidden}")
    expect(why).to_contain_text("Hide this key from the reader")

"""The power user (AWSKeyManagementServicePowerUser) creates a key through the wizard, edits its policy, and retires it.

The wizard names the power user itself as the key's administrator: the managed policy lacks kms:PutKeyPolicy, so
CreateKey's lockout check passes only for a policy that lets the creator change it later, as in AWS.  The policy
editor then reports, as the user types, that removing the administrators statement would lock the power user out,
and saves a valid edit.  The key is disabled, scheduled for deletion in 7 days and the deletion cancelled.  Every
change is confirmed through boto3 as the account's root user.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from playwright.sync_api import Page, expect

from kmsd.authz.console_policy import ConsoleKeyType, console_key_policy_document
from kmsd.crypto.key_spec import key_spec
from tests.console.conftest import Console
from tests.console.console_ui import call_answer, console_call, open_route, open_tab, sign_in
from tests.console.principals import ACCOUNT_ID

SYMMETRIC = ConsoleKeyType(key_spec("SYMMETRIC_DEFAULT"), "ENCRYPT_DECRYPT")
ADMINISTRATORS_SID = "Allow access for Key Administrators"
KEY_ID = re.compile(r"#/keys/([0-9a-f-]{36})$")


def console_policy(console: Console) -> dict[str, Any]:
    """The policy AWS's console writes for a symmetric key administered by the power user and used by ``plain``."""
    principals = console.principals
    return console_key_policy_document(
        ACCOUNT_ID, SYMMETRIC, administrators=[principals.power_user.arn], users=[principals.plain.arn]
    )


@pytest.fixture
def administered_key(console: Console) -> str:
    """A key with the console's policy naming the power user as administrator, created by the root user."""
    created = console.kms.create_key(Policy=json.dumps(console_policy(console), indent=4))
    key_id: str = created["KeyMetadata"]["KeyId"]
    return key_id


def test_the_power_user_creates_a_key_through_the_wizard(console: Console, page: Page) -> None:
    principals = console.principals
    sign_in(page, principals.power_user)
    open_route(page, "#/keys")
    create = page.locator("#create-key")
    expect(create).to_be_enabled()
    create.click()
    expect(page).to_have_url(re.compile(r"#/create$"))

    page.check("input[name=key-type][value=symmetric]")
    expect(page.locator("#key-usage")).to_have_value("ENCRYPT_DECRYPT")
    expect(page.locator("#key-spec")).to_have_value("SYMMETRIC_DEFAULT")
    page.click("#wizard-next")

    page.fill("#wizard-alias", "wizard-made")
    page.fill("#wizard-description", "made in the wizard by the power user")
    page.fill("#wizard-tag-key", "team")
    page.fill("#wizard-tag-value", "payments")
    page.click("#wizard-add-tag")
    page.click("#wizard-next")

    page.check(f"#admins-list input[type=checkbox][value='{principals.power_user.arn}']")
    expect(page.locator("#admins-can-delete")).to_be_checked()
    page.click("#wizard-next")

    page.check(f"#users-list input[type=checkbox][value='{principals.plain.arn}']")
    page.click("#wizard-next")

    preview = page.locator("#policy-preview")
    expect(preview).to_contain_text("Allow attachment of persistent resources")
    expect(preview).to_contain_text("kms:GrantIsForAWSResource")
    assert json.loads(preview.inner_text()) == console_policy(console)
    with page.expect_response(console_call("CreateKey")) as created:
        page.click("#create-button")
    answer = call_answer(created.value, "CreateKey")
    assert "result" in answer, answer
    key_id = answer["result"]["KeyMetadata"]["KeyId"]
    expect(page).to_have_url(re.compile(f"#/keys/{key_id}$"))
    expect(page.locator("h1")).to_contain_text("wizard-made")

    kms = console.kms
    metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert (metadata["KeyState"], metadata["KeySpec"], metadata["KeyUsage"]) == (
        "Enabled",
        "SYMMETRIC_DEFAULT",
        "ENCRYPT_DECRYPT",
    )
    assert metadata["Description"] == "made in the wizard by the power user"
    policy = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    assert policy == console_policy(console)
    statements = {statement["Sid"]: statement for statement in policy["Statement"]}
    assert statements[ADMINISTRATORS_SID]["Principal"] == {"AWS": principals.power_user.arn}
    assert statements["Allow use of the key"]["Principal"] == {"AWS": principals.plain.arn}
    aliases = kms.list_aliases(KeyId=key_id)["Aliases"]
    assert [alias["AliasName"] for alias in aliases] == ["alias/wizard-made"]
    assert kms.list_resource_tags(KeyId=key_id)["Tags"] == [{"TagKey": "team", "TagValue": "payments"}]


def test_the_policy_editor_shows_the_lockout_and_saves_a_valid_edit(
    console: Console, administered_key: str, page: Page
) -> None:
    principals = console.principals
    kms = console.kms
    original = console_policy(console)
    locked_out = {**original, "Statement": [s for s in original["Statement"] if s["Sid"] != ADMINISTRATORS_SID]}
    power = console.client("kms", principals.power_user)
    with pytest.raises(ClientError) as refused:
        power.put_key_policy(KeyId=administered_key, PolicyName="default", Policy=json.dumps(locked_out))
    assert refused.value.response["Error"]["Code"] == "MalformedPolicyDocumentException"

    sign_in(page, principals.power_user)
    open_route(page, f"#/keys/{administered_key}")
    open_tab(page, "Key policy")
    page.click("#edit-policy")
    expect(page).to_have_url(re.compile(f"#/keys/{administered_key}/policy$"))
    editor = page.locator("#policy-editor")
    expect(editor).to_have_value(re.compile("Allow access for Key Administrators"))
    assert json.loads(editor.input_value()) == original

    editor.fill(json.dumps(locked_out, indent=4))
    lockout = page.locator("#policy-findings li.finding").filter(has_text="ERROR")
    expect(lockout).to_have_count(1)
    expect(lockout).to_contain_text(re.compile(r"lock|PutKeyPolicy", re.IGNORECASE))
    expect(page.locator("#save-policy")).to_be_disabled()
    assert json.loads(kms.get_key_policy(KeyId=administered_key, PolicyName="default")["Policy"]) == original

    reader_statement = {
        "Sid": "Allow the read-only console user to describe the key",
        "Effect": "Allow",
        "Principal": {"AWS": principals.read_only.arn},
        "Action": "kms:DescribeKey",
        "Resource": "*",
    }
    edited = {**original, "Statement": [*original["Statement"], reader_statement]}
    editor.fill(json.dumps(edited, indent=4))
    expect(page.locator("#policy-findings li.finding").filter(has_text="ERROR")).to_have_count(0)
    save = page.locator("#save-policy")
    expect(save).to_be_enabled()
    with page.expect_response(console_call("PutKeyPolicy")) as saved:
        save.click()
    assert "result" in call_answer(saved.value, "PutKeyPolicy"), call_answer(saved.value, "PutKeyPolicy")
    assert json.loads(kms.get_key_policy(KeyId=administered_key, PolicyName="default")["Policy"]) == edited


def test_the_power_user_disables_a_key_and_schedules_then_cancels_its_deletion(
    console: Console, administered_key: str, page: Page
) -> None:
    kms = console.kms
    sign_in(page, console.principals.power_user)
    open_route(page, f"#/keys/{administered_key}")
    status = page.locator("#key-status")
    expect(status).to_have_text("Enabled")

    with page.expect_response(console_call("DisableKey")) as disabled:
        page.click("#disable-key")
    assert "result" in call_answer(disabled.value, "DisableKey")
    expect(status).to_have_text("Disabled")
    metadata = kms.describe_key(KeyId=administered_key)["KeyMetadata"]
    assert (metadata["KeyState"], metadata["Enabled"]) == ("Disabled", False)

    page.click("#schedule-deletion")
    dialog = page.locator("dialog[open]")
    expect(dialog).to_be_visible()
    waiting = dialog.locator("#waiting-period")
    expect(waiting).to_have_value("30")
    waiting.fill("7")
    asked = datetime.now(UTC)
    with page.expect_response(console_call("ScheduleKeyDeletion")) as scheduled:
        dialog.locator("#confirm-schedule-deletion").click()
    answer = call_answer(scheduled.value, "ScheduleKeyDeletion")
    assert answer["result"]["PendingWindowInDays"] == 7, answer
    expect(status).to_have_text("PendingDeletion")
    metadata = kms.describe_key(KeyId=administered_key)["KeyMetadata"]
    assert metadata["KeyState"] == "PendingDeletion"
    assert metadata["PendingDeletionWindowInDays"] == 7
    deletion = metadata["DeletionDate"]
    assert asked + timedelta(days=7) - timedelta(minutes=5) <= deletion <= asked + timedelta(days=7, minutes=5)
    expect(page.locator("#cancel-deletion")).to_be_enabled()

    with page.expect_response(console_call("CancelKeyDeletion")) as cancelled:
        page.click("#cancel-deletion")
    assert "result" in call_answer(cancelled.value, "CancelKeyDeletion")
    expect(status).to_have_text("Disabled")
    metadata = kms.describe_key(KeyId=administered_key)["KeyMetadata"]
    assert metadata["KeyState"] == "Disabled"
    assert "DeletionDate" not in metadata

    with page.expect_response(console_call("EnableKey")):
        page.click("#enable-key")
    expect(status).to_have_text("Enabled")
    assert kms.describe_key(KeyId=administered_key)["KeyMetadata"]["KeyState"] == "Enabled"

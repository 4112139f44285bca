"""The power user (AWSKeyManagementServicePowerUser) creates a key through the wizard, edits it, and retires it.

The wizard names the power user itself as the key's administrator: the managed policy lacks kms:PutKeyPolicy, so
CreateKey's lockout check passes only for a policy that lets the creator change it later, as in AWS.  The policy
editor then reports, as the user types, that removing the administrators statement would lock the power user out,
and saves a valid edit.  A key administered by the power user is disabled, scheduled for deletion in 7 days and the
deletion cancelled; its description, rotation, tags and aliases are edited, and the root user finds those calls, made
as the power user, in the key's events.  Every change is confirmed through boto3 as the account's root user.
"""

from __future__ import annotations

import base64
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
from tests.console.console_ui import call_answer, console_call, open_route, open_tab, sign_in, tab
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


def test_the_power_user_edits_description_rotation_tags_and_aliases_and_the_trail_names_them(
    console: Console, administered_key: str, page: Page
) -> None:
    kms = console.kms
    power_user = console.principals.power_user
    sign_in(page, power_user)
    open_route(page, f"#/keys/{administered_key}")
    expect(page.locator("#key-status")).to_have_text("Enabled")

    page.fill("#description-input", "rewritten in the console")
    with page.expect_response(console_call("UpdateKeyDescription")) as described:
        page.click("#save-description")
    assert "result" in call_answer(described.value, "UpdateKeyDescription")
    expect(page.locator("#key-description")).to_contain_text("rewritten in the console")
    assert kms.describe_key(KeyId=administered_key)["KeyMetadata"]["Description"] == "rewritten in the console"

    open_tab(page, "Rotation")
    page.check("#rotation-enabled")
    page.fill("#rotation-period", "180")
    with page.expect_response(console_call("EnableKeyRotation")) as rotated:
        page.click("#save-rotation")
    assert "result" in call_answer(rotated.value, "EnableKeyRotation")
    status = kms.get_key_rotation_status(KeyId=administered_key)
    assert (status["KeyRotationEnabled"], status["RotationPeriodInDays"]) == (True, 180)
    # "Rotate now": the console policy lets administrators call kms:RotateKeyOnDemand on a symmetric key.
    with page.expect_response(console_call("RotateKeyOnDemand")) as on_demand:
        page.click("#rotate-now")
    assert "result" in call_answer(on_demand.value, "RotateKeyOnDemand")
    rotations = kms.list_key_rotations(KeyId=administered_key)["Rotations"]
    assert [rotation["RotationType"] for rotation in rotations] == ["ON_DEMAND"]
    expect(page.locator("#rotation-history")).to_contain_text("On demand")

    open_tab(page, "Tags")
    page.fill("#tag-key", "cost-center")
    page.fill("#tag-value", "4711")
    with page.expect_response(console_call("TagResource")):
        page.click("#add-tag")
    row = page.locator("tr").filter(has_text="cost-center")
    expect(row).to_contain_text("4711")
    assert kms.list_resource_tags(KeyId=administered_key)["Tags"] == [{"TagKey": "cost-center", "TagValue": "4711"}]
    with page.expect_response(console_call("UntagResource")):
        row.get_by_role("button", name=re.compile("remove", re.IGNORECASE)).click()
    expect(page.locator("tr").filter(has_text="cost-center")).to_have_count(0)
    assert kms.list_resource_tags(KeyId=administered_key)["Tags"] == []

    open_tab(page, "Aliases")
    page.fill("#new-alias", "edited-in-console")
    with page.expect_response(console_call("CreateAlias")):
        page.click("#create-alias")
    item = page.locator("li, tr").filter(has_text="alias/edited-in-console")
    expect(item).to_have_count(1)
    assert [a["AliasName"] for a in kms.list_aliases(KeyId=administered_key)["Aliases"]] == ["alias/edited-in-console"]
    with page.expect_response(console_call("DeleteAlias")):
        item.get_by_role("button", name=re.compile("delete", re.IGNORECASE)).click()
    expect(page.locator("li, tr").filter(has_text="alias/edited-in-console")).to_have_count(0)
    assert kms.list_aliases(KeyId=administered_key)["Aliases"] == []

    # The power user may not read the audit trail (cloudtrail:LookupEvents); the root user sees its calls there.
    open_tab(page, "Events")
    expect(page.locator(".call-error").first).to_contain_text("AccessDenied")
    page.click("#sign-out")
    sign_in(page, console.principals.root)
    open_route(page, f"#/keys/{administered_key}")
    open_tab(page, "Events")
    # The table holds the 20 latest events, the page's own reads among them: the last change is there.
    latest = page.locator("#key-events tr").filter(has_text="DeleteAlias").filter(has_text=power_user.user_name)
    expect(latest).to_have_count(1)
    cloudtrail = console.client("cloudtrail")
    key_arn = kms.describe_key(KeyId=administered_key)["KeyMetadata"]["Arn"]
    for name in ("UpdateKeyDescription", "EnableKeyRotation", "TagResource", "UntagResource", "CreateAlias"):
        found = cloudtrail.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": name}])
        by_user = [
            event
            for event in found["Events"]
            if event["Username"] == power_user.user_name
            and {"ResourceType": "AWS::KMS::Key", "ResourceName": key_arn} in event["Resources"]
        ]
        assert len(by_user) == 1, (name, found["Events"])


def test_the_key_page_shows_a_public_key_and_a_keys_regions(console: Console, page: Page) -> None:
    kms = console.kms
    signing = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    public_key = base64.b64encode(kms.get_public_key(KeyId=signing)["PublicKey"]).decode()
    primary = kms.create_key(MultiRegion=True)["KeyMetadata"]
    kms.replicate_key(KeyId=primary["KeyId"], ReplicaRegion="us-west-2")

    sign_in(page, console.principals.power_user)
    open_route(page, f"#/keys/{signing}")
    expect(tab(page, "Regionality")).to_have_count(0)
    open_tab(page, "Public key")
    panel = page.get_by_role("tabpanel")
    expect(panel).to_contain_text("-----BEGIN PUBLIC KEY-----")
    expect(panel).to_contain_text(public_key[:64])
    expect(panel).to_contain_text("ECDSA_SHA_256")

    open_route(page, f"#/keys/{primary['KeyId']}")
    expect(tab(page, "Public key")).to_have_count(0)
    open_tab(page, "Regionality")
    panel = page.get_by_role("tabpanel")
    expect(panel).to_contain_text("us-west-2")
    expect(panel).to_contain_text(primary["Arn"])
    expect(panel).to_contain_text(primary["Arn"].replace("us-east-1", "us-west-2"))

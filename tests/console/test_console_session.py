"""Signing in and out: credentials go to the server once, the session lives in an HttpOnly, SameSite=Strict cookie.

Sign-in takes an access key or temporary credentials and refuses bad ones with AWS's error; the browser's script and
storage never hold the secret; every change needs the CSRF token and runs as the signed-in principal; signing out
clears the cookie, after which the API answers 401 and every route leads back to the sign-in form.
"""

from __future__ import annotations

import json
import re
from typing import Any

from playwright.sync_api import BrowserContext, Page, expect

from tests.console.conftest import Console
from tests.console.console_ui import open_route, sign_in, sign_out
from tests.console.principals import REGION, Principal


def test_a_route_without_a_session_leads_to_the_sign_in_form(console: Console, page: Page) -> None:
    open_route(page, "#/keys")
    expect(page).to_have_url(re.compile(r"#/sign-in$"))
    expect(page.locator("#access-key-id")).to_be_visible()
    expect(page.locator("#region")).to_have_value(REGION)
    expect(page.locator("#identity")).to_be_hidden()


def test_a_wrong_secret_is_refused_with_awss_error(console: Console, page: Page) -> None:
    user = console.principals.read_only
    page.goto("/console/#/sign-in")
    page.fill("#access-key-id", user.access_key_id)
    page.fill("#secret-access-key", "not" + user.secret_access_key[3:])
    page.click("#sign-in-button")
    error = page.locator("#sign-in-error")
    expect(error).to_be_visible()
    expect(error).to_have_attribute("role", "alert")
    expect(error).to_contain_text("SignatureDoesNotMatch")
    expect(page).to_have_url(re.compile(r"#/sign-in$"))


def test_temporary_credentials_sign_in(console: Console, page: Page) -> None:
    user = console.principals.power_user
    credentials = console.client("sts", user).get_session_token()["Credentials"]
    page.goto("/console/#/sign-in")
    page.fill("#access-key-id", credentials["AccessKeyId"])
    page.fill("#secret-access-key", credentials["SecretAccessKey"])
    page.fill("#session-token", credentials["SessionToken"])
    page.click("#sign-in-button")
    expect(page.locator("#identity")).to_have_text(user.arn)
    expect(page.locator("#keys-table")).to_be_visible()


def session_status(context: BrowserContext, console: Console) -> tuple[int, dict[str, Any]]:
    answer = context.request.get(f"{console.endpoint}/console/api/session")
    body: dict[str, Any] = answer.json()
    return answer.status, body


def stored_in_the_page(page: Page) -> str:
    """What the page's script can read: its cookies, local and session storage, and the values of its inputs."""
    stored: str = page.evaluate(
        """JSON.stringify([
            document.cookie,
            Object.entries(localStorage),
            Object.entries(sessionStorage),
            Array.from(document.querySelectorAll("input, textarea"), (input) => input.value),
        ])"""
    )
    return stored


def assert_secret_not_kept(page: Page, context: BrowserContext, user: Principal) -> None:
    assert user.secret_access_key not in stored_in_the_page(page)
    for cookie in context.cookies():
        assert user.secret_access_key not in cookie["value"]


def test_the_session_cookie_is_http_only_and_strict_and_sign_out_clears_it(
    console: Console, context: BrowserContext, page: Page
) -> None:
    user = console.principals.read_only
    sign_in(page, user)
    cookies = context.cookies()
    assert cookies, "signing in set no cookie"
    for cookie in cookies:
        assert cookie["httpOnly"], cookie["name"]
        assert cookie["sameSite"] == "Strict", cookie["name"]
        assert not cookie["secure"], "a cookie marked Secure over plain HTTP would not come back"
    assert_secret_not_kept(page, context, user)
    status, session = session_status(context, console)
    assert status == 200
    assert session["identity"] == {
        "Arn": user.arn,
        "Account": console.principals.root.arn.split(":")[4],
        "UserId": console.client("sts", user).get_caller_identity()["UserId"],
    }

    with page.expect_response(re.compile(r"/console/api/sign-out$")) as signed_out:
        sign_out(page)
    assert signed_out.value.status == 200
    assert "cookies" in (signed_out.value.all_headers().get("clear-site-data") or "")
    assert context.cookies() == []
    status, session = session_status(context, console)
    assert (status, session["error"]["code"]) == (401, "NotSignedIn")
    expect(page.locator("#secret-access-key")).to_have_value("")
    assert_secret_not_kept(page, context, user)
    open_route(page, "#/keys")
    expect(page).to_have_url(re.compile(r"#/sign-in$"))
    expect(page.locator("#keys-table")).to_have_count(0)


def test_a_change_needs_the_csrf_token_and_runs_as_the_signed_in_principal(
    console: Console, context: BrowserContext, page: Page
) -> None:
    key_id = console.kms.create_key()["KeyMetadata"]["KeyId"]
    sign_in(page, console.principals.read_only)
    status, session = session_status(context, console)
    assert status == 200
    call = {"service": "kms", "operation": "DisableKey", "params": {"KeyId": key_id}}
    url = f"{console.endpoint}/console/api/call"

    forged = context.request.post(url, data=json.dumps(call), headers={"Content-Type": "application/json"})
    assert forged.status == 403
    assert forged.json()["error"]["code"] == "InvalidCsrfToken"

    headers = {"Content-Type": "application/json", "X-Kmsd-Csrf": str(session["csrfToken"])}
    answer = context.request.post(url, data=json.dumps(call), headers=headers).json()
    error = answer["error"]
    assert error["code"] == "AccessDeniedException"
    assert console.principals.read_only.arn in error["message"] and "kms:DisableKey" in error["message"]
    assert error["explanation"]["decision"] == "Deny"
    assert [check["action"] for check in error["explanation"]["checks"]] == ["kms:DisableKey"]
    assert console.kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"

    allowed = {"service": "kms", "operation": "DescribeKey", "params": {"KeyId": key_id}}
    described = context.request.post(url, data=json.dumps(allowed), headers=headers).json()
    assert described["result"]["KeyMetadata"]["KeyId"] == key_id

"""What the console tests do in the browser, in the contract's terms (/work/notes/console-contract.md's element ids).

Signing in goes through the form as a person would; routes are the console's hash routes; the layout and contrast
checks read what Chromium computed, not what the stylesheet says.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Literal

from playwright.sync_api import Locator, Page, Response, expect

from tests.console.principals import REGION, Principal

Theme = Literal["light", "dark"]
THEMES: tuple[Theme, ...] = ("light", "dark")


def open_route(page: Page, route: str) -> None:
    """Go to the console's hash route ``route`` (``#/keys``, ``#/keys/<id>``...) in the page already signed in."""
    page.goto(f"/console/{route}")


def sign_in(page: Page, principal: Principal, *, region: str = REGION) -> None:
    """Sign in through the form with ``principal``'s access key, and wait for the header to name it."""
    page.goto("/console/#/sign-in")
    page.fill("#access-key-id", principal.access_key_id)
    page.fill("#secret-access-key", principal.secret_access_key)
    page.fill("#region", region)
    page.click("#sign-in-button")
    expect(page.locator("#identity")).to_have_text(principal.arn)


def sign_out(page: Page) -> None:
    page.click("#sign-out")
    expect(page).to_have_url(re.compile(r"#/sign-in$"))
    expect(page.locator("#access-key-id")).to_be_visible()


def set_theme(page: Page, theme: Theme) -> None:
    """Switch to ``theme`` with the header's toggle (it flips ``data-theme`` on ``<html>``)."""
    root = page.locator("html")
    if root.get_attribute("data-theme") != theme:
        page.click("#theme-toggle")
    expect(root).to_have_attribute("data-theme", theme)


def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the document is wider than the viewport (0 when nothing overflows the page width)."""
    width: int = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    return max(width, 0)


# WCAG 2.x relative luminance and contrast ratio of the colours Chromium computed for an element: its text colour
# against the first opaque background found up its ancestors (translucent layers are blended onto what is below).
CONTRAST_SCRIPT = """
(el) => {
  const parse = (c) => {
    const m = c.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, bottom) => {
    const a = top[3];
    return [0, 1, 2].map((i) => top[i] * a + bottom[i] * (1 - a)).concat([1]);
  };
  const layers = [];
  for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
    const bg = parse(getComputedStyle(node).backgroundColor);
    if (bg && bg[3] > 0) layers.push(bg);
    if (bg && bg[3] >= 1) break;
  }
  let background = [255, 255, 255, 1];
  for (let i = layers.length - 1; i >= 0; i--) background = over(layers[i], background);
  const text = over(parse(getComputedStyle(el).color), background);
  const lum = (c) => {
    const [r, g, b] = c.slice(0, 3).map((v) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : Math.pow((s + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const [hi, lo] = [lum(text), lum(background)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}
"""


def contrast_ratio(page: Page, selector: str) -> float:
    """The WCAG contrast ratio of the first element matching ``selector``: its text against its background."""
    ratio: float = page.locator(selector).first.evaluate(CONTRAST_SCRIPT)
    return ratio


def console_call(operation: str) -> Callable[[Response], bool]:
    """A predicate for ``page.expect_response``: the console's POST to ``call`` or ``calls`` that runs ``operation``."""

    def matches(response: Response) -> bool:
        if response.request.method != "POST" or not re.search(r"/console/api/calls?$", response.url):
            return False
        body = response.request.post_data_json
        if not isinstance(body, dict):
            return False
        calls = body.get("calls", [body])
        return any(isinstance(call, dict) and call.get("operation") == operation for call in calls)

    return matches


def call_answer(response: Response, operation: str) -> dict[str, Any]:
    """What the console's API answered for ``operation`` in ``response``: ``{"result": ...}`` or ``{"error": ...}``."""
    body = response.request.post_data_json
    answer: dict[str, Any] = response.json()
    if not isinstance(body, dict) or "calls" not in body:
        return answer
    for call, result in zip(body["calls"], answer["results"], strict=True):
        if call.get("operation") == operation:
            found: dict[str, Any] = result
            return found
    raise AssertionError(f"{operation} is not among the calls of {body!r}")


def assert_disabled_with_reason(page: Page, selector: str, action: str | re.Pattern[str]) -> None:
    """``selector`` is disabled and described by a visible ``.reason`` naming the missing permission ``action``."""
    control = page.locator(selector)
    expect(control).to_be_disabled()
    expect(control).to_have_attribute("aria-describedby", re.compile(r"\S"))
    described = control.get_attribute("aria-describedby") or ""
    reasons = [page.locator(f"[id='{name}']") for name in described.split()]
    reason_elements = [reason for reason in reasons if "reason" in (reason.get_attribute("class") or "").split()]
    assert reason_elements, f"{selector}'s aria-describedby={described!r} points at no .reason element"
    reason = reason_elements[0]
    expect(reason).to_be_visible()
    expect(reason).to_contain_text(action)


def tab(page: Page, name: str) -> Locator:
    """The key page's tab ``name`` (a button with role=tab)."""
    return page.get_by_role("tab", name=name, exact=True)


def open_tab(page: Page, name: str) -> None:
    button = tab(page, name)
    button.click()
    expect(button).to_have_attribute("aria-selected", "true")


def wizard_to_review(page: Page, *, administrators: list[str], users: list[str], alias: str = "") -> None:
    """Walk the wizard from its first step to the review, for a symmetric key with these people and ``alias``."""
    open_route(page, "#/create")
    page.check("input[name=key-type][value=symmetric]")
    page.click("#wizard-next")
    if alias:
        page.fill("#wizard-alias", alias)
    page.click("#wizard-next")
    for arn in administrators:
        page.check(f"#admins-list input[type=checkbox][value='{arn}']")
    page.click("#wizard-next")
    for arn in users:
        page.check(f"#users-list input[type=checkbox][value='{arn}']")
    page.click("#wizard-next")
    expect(page.locator("#policy-preview")).to_contain_text("Enable IAM User Permissions")
    expect(page.locator("#create-button")).to_be_visible()

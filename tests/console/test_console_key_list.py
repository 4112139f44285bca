"""The key list with more keys than a page: it pages, sorts by its columns and filters, as a person uses it.

The root user creates 120 keys through boto3: every tenth an RSA_2048 signing key, every fourth with an alias
``alias/bulk-NNN``, five disabled.  The read-only console user pages through all of them (the same ids boto3's
ListKeys gives), sorts by key id and key spec, and filters by alias, key id, status and key spec.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.console.conftest import Console
from tests.console.console_ui import open_route, sign_in

COUNT = 120
DISABLED = (1, 3, 5, 7, 9)


@dataclass(frozen=True)
class BulkKeys:
    ids: list[str]  # in creation order: ids[i] is key number i

    @property
    def signing(self) -> list[str]:
        return [key_id for number, key_id in enumerate(self.ids) if number % 10 == 0]


@pytest.fixture(scope="module")
def bulk(console: Console) -> BulkKeys:
    kms = console.kms
    ids: list[str] = []
    for number in range(COUNT):
        spec = {"KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY"} if number % 10 == 0 else {}
        key_id = kms.create_key(Description=f"bulk key {number}", **spec)["KeyMetadata"]["KeyId"]
        if number % 4 == 0:
            kms.create_alias(AliasName=f"alias/bulk-{number:03d}", TargetKeyId=key_id)
        if number in DISABLED:
            kms.disable_key(KeyId=key_id)
        ids.append(key_id)
    listed = [key["KeyId"] for page in kms.get_paginator("list_keys").paginate() for key in page["Keys"]]
    assert sorted(listed) == sorted(ids)
    return BulkKeys(ids)


def page_status(first: int, last: int, total: int) -> re.Pattern[str]:
    """The text of ``#page-status`` for rows ``first`` to ``last`` of ``total`` ("1–25 of 120")."""
    return re.compile(rf"^\s*{first}\s*[–-]\s*{last}\s+of\s+{total}\s*$")


def shown_ids(page: Page) -> list[str]:
    ids: list[str] = page.locator("#keys-table tr[data-key-id]").evaluate_all(
        "rows => rows.map((row) => row.dataset.keyId)"
    )
    return ids


def shown_texts(page: Page) -> list[str]:
    texts: list[str] = page.locator("#keys-table tr[data-key-id]").evaluate_all("rows => rows.map((r) => r.innerText)")
    return texts


def open_list(page: Page, console: Console) -> None:
    sign_in(page, console.principals.read_only)
    open_route(page, "#/keys")
    expect(page.locator("#page-status")).to_have_text(page_status(1, 25, COUNT))


def test_the_key_list_pages_through_every_key(console: Console, bulk: BulkKeys, page: Page) -> None:
    open_list(page, console)
    expect(page.locator("#page-size")).to_have_value("25")
    rows = page.locator("#keys-table tr[data-key-id]")
    seen: list[str] = []
    for first in range(1, COUNT + 1, 25):
        last = min(first + 24, COUNT)
        expect(page.locator("#page-status")).to_have_text(page_status(first, last, COUNT))
        expect(rows).to_have_count(last - first + 1)
        seen += shown_ids(page)
        if last < COUNT:
            page.click("#next-page")
    assert sorted(seen) == sorted(bulk.ids)

    page.click("#prev-page")
    expect(page.locator("#page-status")).to_have_text(page_status(76, 100, COUNT))

    page.reload()  # the list starts again on its first page of 25
    expect(page.locator("#page-status")).to_have_text(page_status(1, 25, COUNT))
    page.select_option("#page-size", "100")
    expect(page.locator("#page-status")).to_have_text(page_status(1, 100, COUNT))
    expect(rows).to_have_count(100)
    page.click("#next-page")
    expect(page.locator("#page-status")).to_have_text(page_status(101, 120, COUNT))
    expect(rows).to_have_count(20)


def shown_aliases(page: Page) -> list[str]:
    return [name for text in shown_texts(page) for name in re.findall(r"bulk-\d{3}", text)]


def column(page: Page, name: str) -> Locator:
    """The header cell of the key list's column ``name`` (its sort button's label starts with the name)."""
    button = page.get_by_role("button", name=re.compile(rf"^\s*{name}"))
    return page.locator("#keys-table th").filter(has=button)


def sort_by(page: Page, name: str, direction: str) -> Locator:
    """Click ``name``'s sort button until the column says it is sorted in ``direction`` (at most twice)."""
    header = column(page, name)
    for _ in range(2):
        if header.get_attribute("aria-sort") == direction:
            break
        header.locator("button").click()
    expect(header).to_have_attribute("aria-sort", direction)
    return header


def every_row(page: Page) -> list[tuple[str, str]]:
    """(id, text) of all rows in the list's order, read 100 at a time from its first page on."""
    page.select_option("#page-size", "100")
    expect(page.locator("#page-status")).to_have_text(page_status(1, 100, COUNT))
    rows = list(zip(shown_ids(page), shown_texts(page), strict=True))
    page.click("#next-page")
    expect(page.locator("#page-status")).to_have_text(page_status(101, COUNT, COUNT))
    return rows + list(zip(shown_ids(page), shown_texts(page), strict=True))


def test_the_key_list_sorts_by_its_columns(console: Console, bulk: BulkKeys, page: Page) -> None:
    open_list(page, console)
    aliased = [f"bulk-{number:03d}" for number in range(0, COUNT, 4)]  # 30, zero-padded: any collation agrees
    sort_by(page, "Aliases", "ascending")
    expect(page.locator("#page-status")).to_have_text(page_status(1, 25, COUNT))
    assert shown_aliases(page) == aliased[:25]  # keys without an alias after those with one
    sort_by(page, "Aliases", "descending")
    rows = every_row(page)
    assert [name for _, text in rows for name in re.findall(r"bulk-\d{3}", text)] == aliased[::-1]
    # Keys without an alias still come last.
    assert [name for _, text in rows[: len(aliased)] for name in re.findall(r"bulk-\d{3}", text)] == aliased[::-1]

    page.reload()
    by_id = sort_by(page, "Key ID", "ascending")
    expect(column(page, "Aliases")).to_have_attribute("aria-sort", "none")
    ascending = [key_id for key_id, _ in every_row(page)]
    assert sorted(ascending) == sorted(bulk.ids)
    by_id.locator("button").click()
    expect(by_id).to_have_attribute("aria-sort", "descending")
    assert [key_id for key_id, _ in every_row(page)] == ascending[::-1]

    page.reload()
    sort_by(page, "Key spec", "ascending")
    texts = shown_texts(page)
    signing = len(bulk.signing)
    assert all("RSA_2048" in text for text in texts[:signing]), texts
    assert all("SYMMETRIC_DEFAULT" in text for text in texts[signing:]), texts
    assert sorted(shown_ids(page)[:signing]) == sorted(bulk.signing)


def test_the_key_list_filters_by_alias_id_status_and_spec(console: Console, bulk: BulkKeys, page: Page) -> None:
    open_list(page, console)
    search = page.locator("#keys-filter")
    rows = page.locator("#keys-table tr[data-key-id]")

    search.fill("bulk-00")  # alias/bulk-000, -004, -008
    expect(page.locator("#page-status")).to_have_text(page_status(1, 3, 3))
    expect(rows).to_have_count(3)
    assert sorted(shown_ids(page)) == sorted([bulk.ids[0], bulk.ids[4], bulk.ids[8]])

    one = bulk.ids[57]
    search.fill(one[:13])
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-key-id", one)

    search.fill("Disabled")
    expect(rows).to_have_count(len(DISABLED))
    assert sorted(shown_ids(page)) == sorted(bulk.ids[number] for number in DISABLED)

    search.fill("RSA_2048")
    expect(rows).to_have_count(len(bulk.signing))
    assert sorted(shown_ids(page)) == sorted(bulk.signing)

    search.fill("")
    expect(page.locator("#page-status")).to_have_text(page_status(1, 25, COUNT))

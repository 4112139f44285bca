"""What only the PostgreSQL store has: its schema next to SQLite's, migrating on a shared server, change
notifications and their fallback, the background lease, the principal-reference triggers in plpgsql, byte order
under any database collation, and URLs that carry a password.

The Store contract itself runs on both stores in the other modules of tests/store; these tests open their
stores on the session's database (``stores``, emptied before each test) or, where the database itself matters
(a fresh schema, a collation), on one of their own.
"""

from __future__ import annotations

import pytest
from tests.store.store_kinds import Stores

# Every test here is a PostgreSQL test: `stores` opens PostgreSQL stores, the ids end in [postgresql], and
# `--store-kind sqlite` deselects them.
pytestmark = pytest.mark.parametrize("store_kind", ["postgresql"], indirect=True)


@pytest.fixture(autouse=True)
def _every_test_has_a_store_kind(store_kind: str) -> None:
    """Puts ``store_kind`` in every test's fixtures, where the parametrization above needs it."""


# --- change notifications -----------------------------------------------------------------------------------


def test_a_freshly_opened_store_reports_no_change(stores: Stores) -> None:
    # Nothing was cached before the listener listened, so nothing can be outdated (it used to say True once).
    stores.open().set_setting("x", "1")
    assert stores.open().changed_since_last_check() is False


# --- the background lease ---------------------------------------------------------------------------------


def test_the_background_lease_has_one_holder_and_is_free_once_it_closes(stores: Stores) -> None:
    second = stores.open()
    # Several rounds: a lease freed only when the holder's backend had exited was still held here one time in ten.
    for _ in range(8):
        first = stores.open()
        assert first.try_hold_background_lease() is True
        assert first.try_hold_background_lease() is True  # it still holds it
        assert second.try_hold_background_lease() is False
        first.close()
        assert second.try_hold_background_lease() is True
        second.close()
        second = stores.open()

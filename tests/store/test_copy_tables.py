"""``kmsd store copy``'s list of tables keeps up with the schema (every table, in foreign-key order, by its key),
and its progress is a bar on a terminal, lines in a log.

A migration that adds a table fails here until the table is in :data:`kmsd.store.copy.TABLES` (or, if its rows
are made by triggers, in ``REBUILT_TABLES``); PostgreSQL has the same tables (tests/store compares the schemas).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from kmsd.cli.store_progress import LogProgress, TerminalProgress, progress_for
from kmsd.store.copy import REBUILT_TABLES, TABLES
from kmsd.store.sqlite import SqliteStore


def test_every_table_is_copied_or_rebuilt_and_ordered_by_its_primary_key(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "kmsd.db")
    try:
        names = {str(row[0]) for row in store._fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert names == {table.name for table in TABLES} | set(REBUILT_TABLES)
        for table in TABLES:
            columns = store._fetchall(f"PRAGMA table_info({table.name})")
            primary_key = [str(column[1]) for column in sorted(columns, key=lambda column: column[5]) if column[5]]
            if primary_key:
                assert list(table.order) == primary_key, table.name
            else:
                assert set(table.order) <= {str(column[1]) for column in columns}, table.name
    finally:
        store.close()


def test_tables_come_after_the_tables_they_refer_to(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "kmsd.db")
    try:
        position = {table.name: index for index, table in enumerate(TABLES)}
        for table in TABLES:
            for reference in store._fetchall(f"PRAGMA foreign_key_list({table.name})"):
                assert position[str(reference[2])] < position[table.name], (table.name, reference[2])
        # Not a foreign key but a trigger: material needs its key (key_materials_need_a_key).
        assert position["keys"] < position["key_materials"]
    finally:
        store.close()


def test_a_terminal_gets_a_bar_redrawn_in_place_and_a_log_gets_a_line_per_table() -> None:
    primary, secondary = os.openpty()
    with open(secondary, "w") as terminal:
        assert isinstance(progress_for(terminal), TerminalProgress)
    os.close(primary)
    assert isinstance(progress_for(io.StringIO()), LogProgress)

    drawn = io.StringIO()
    bar = TerminalProgress(drawn)
    bar.begin({"keys": 3, "aliases": 1, "grants": 0})
    bar.advance("keys", 3)
    bar.table_done("keys", 3)
    bar.advance("aliases", 1)
    bar.table_done("aliases", 1)
    bar.table_done("grants", 0)  # every row is there before the last table: the line ends after it
    assert drawn.getvalue().startswith("\r[")
    assert drawn.getvalue().endswith("] 100% 4/4 rows (grants)\033[K\n")
    assert "\n" not in drawn.getvalue()[:-1]  # one line, redrawn

    failing = io.StringIO()
    broken = TerminalProgress(failing)
    broken.begin({"keys": 3, "aliases": 1})
    broken.advance("keys", 3)
    broken.table_done("keys", 3)
    broken.close()  # the copy failed in aliases: the line ends once, however often close is called
    broken.close()
    assert failing.getvalue().endswith("(keys)\033[K\n") and failing.getvalue().count("\n") == 1

    logged = io.StringIO()
    lines = LogProgress(logged)
    lines.begin({"keys": 3, "aliases": 1})
    lines.advance("keys", 3)
    lines.table_done("keys", 3)
    assert logged.getvalue().splitlines() == [
        "kmsd: store copy: 4 rows in 2 tables",
        "kmsd: store copy: keys: 3 rows (3/4)",
    ]

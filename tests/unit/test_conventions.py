"""Where the lake's tables are, and when a folder of it holds one."""

from __future__ import annotations

from gamelake.conventions import DELTA_LOG, find_delta_tables, is_delta_table, table_path


def test_a_folder_is_a_table_once_it_holds_a_delta_log(tmp_path):
    for layer, table in (("silver", "a"), ("gold", "c")):
        (table_path(tmp_path, layer, table) / DELTA_LOG).mkdir(parents=True)
    table_path(tmp_path, "silver", "b").mkdir()  # written to, never committed
    assert find_delta_tables(tmp_path, ("bronze", "silver", "gold")) == [
        ("gold", "c"),
        ("silver", "a"),
    ]
    assert is_delta_table(table_path(tmp_path, "silver", "a"))
    assert not is_delta_table(table_path(tmp_path, "silver", "b"))

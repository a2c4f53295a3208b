"""The bounded import's own pieces (ecomm.imports.bounded): its distinct-row sets and its spills."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from ecomm.imports.bounded import DistinctRows, Spill


def test_distinct_pairs_over_many_blocks_merge_a_logarithmic_number_of_times():
    rng = np.random.default_rng(0)
    blocks = [
        pd.DataFrame({"ts": rng.integers(0, 50, 40), "customer": rng.integers(0, 30, 40).astype(np.int32)})
        for _ in range(200)
    ]
    pairs = DistinctRows(blocks[0].iloc[:0], merge_at=8)
    for block in blocks:
        pairs.add(block)
    expected = pd.concat(blocks).drop_duplicates().sort_values(["ts", "customer"], ignore_index=True)
    found = pairs.rows().sort_values(["ts", "customer"], ignore_index=True)
    pd.testing.assert_frame_equal(found, expected)
    assert pairs.merges < 20  # merged when the pending rows are as many as the distinct ones, not per block


def test_distinct_values_are_sorted_as_union1d_gives_them():
    values = DistinctRows(np.empty(0, dtype=np.int64), merge_at=3)
    blocks = [np.array([5, 1, 5]), np.array([], dtype=np.int64), np.array([9, 1]), np.array([2, 2, 7])]
    for block in blocks:
        values.add(block)
    assert values.rows().tolist() == [1, 2, 5, 7, 9]


def test_a_spill_left_by_an_error_has_its_files_closed(tmp_path):
    with pytest.raises(RuntimeError), Spill(tmp_path, "read") as spill:
        spill.write("lines", pd.DataFrame({"x": [1, 2]}))
        spill.write("1997-01", pd.DataFrame({"x": [3]}))
        raise RuntimeError("refused")
    assert spill.writers == {}
    for part, rows in (("lines", 2), ("1997-01", 1)):  # a footer was written: the files are whole
        with pa.OSFile(str(tmp_path / f"read-{part}.arrow")) as f:
            assert pa.ipc.open_file(f).read_all().num_rows == rows
    spill.close()  # closing again does nothing
    assert spill.read("lines")["x"].tolist() == [1, 2]

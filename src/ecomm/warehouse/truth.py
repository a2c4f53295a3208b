"""Loading the generator's ground truth (OUT/truth/*.csv) into the `truth` schema.

A file is reloaded only when its checksum changed; each load replaces the table in one transaction.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ecomm.entities import TRUTH_DIR, TRUTH_FILES


def truth_dir_for(path: Path) -> Path:
    """The truth directory beside the batches (`path` is the output root or one batch directory)."""
    root = path if (path / TRUTH_DIR).is_dir() else path.parent
    return root / TRUTH_DIR


def load_truth(conn, truth_dir: Path) -> dict[str, int]:
    """Load changed truth files; returns rows loaded per table (unchanged files are not listed)."""
    loaded: dict[str, int] = {}
    if not truth_dir.is_dir():
        return loaded
    with conn.cursor() as cur:
        for name, columns in TRUTH_FILES.items():
            path = truth_dir / f"{name}.csv"
            if not path.exists():
                _forget_absent(cur, name, path.name)
                continue
            data = path.read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            cur.execute("SELECT sha256 FROM audit.truth_loads WHERE file_name = %s", (path.name,))
            row = cur.fetchone()
            if row and row[0] == digest:
                continue
            cur.execute(f"TRUNCATE truth.{name}")
            with path.open("rb") as fh:
                cur.copy_expert(
                    f"COPY truth.{name} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv, HEADER true)", fh
                )
            rows = loaded[name] = cur.rowcount
            cur.execute(
                "INSERT INTO audit.truth_loads (file_name, sha256, rows_loaded) VALUES (%s, %s, %s) "
                "ON CONFLICT (file_name) DO UPDATE SET sha256 = excluded.sha256, "
                "rows_loaded = excluded.rows_loaded, loaded_at = now()",
                (path.name, digest, rows),
            )
    conn.commit()
    return loaded


def _forget_absent(cur, table: str, file_name: str) -> None:
    """A world without the file (e.g. no planted drift) replaced one with it: empty its table."""
    cur.execute("DELETE FROM audit.truth_loads WHERE file_name = %s", (file_name,))
    if cur.rowcount:
        cur.execute(f"TRUNCATE truth.{table}")

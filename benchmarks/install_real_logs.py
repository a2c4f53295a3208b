"""Write the real rating logs (docs/real_logs.md) out of the registry packages that ship them.

`make realdata` runs this, never a test or a benchmark: it downloads the pinned packages into
.tools/realdata/ (checking their sha256), then runs, in .tools/realdata-venv (requirements-realdata.lock,
which has the `rdata` reader of R's serialization):

    python -m benchmarks.install_real_logs --recbole-wheel .tools/realdata/recbole-1.2.1-py3-none-any.whl \
        --dslabs-deb .tools/realdata/r-cran-dslabs_0.7.4-1_all.deb --out .tools/realdata

The MovieLens terms forbid redistributing the data, so the outputs stay in .tools/ (gitignored).
Each output has the columns user_id, item_id, rating, timestamp (Unix seconds), sorted by timestamp,
user, item; gzip without a file name or time in its header, so every install writes the same bytes,
which are checked against OUTPUT_SHA256 (the files the stored benchmark results were measured on).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import subprocess
import tempfile
import warnings
import zipfile
import zlib
from pathlib import Path

import pandas as pd

RECBOLE_INTER = "recbole/dataset_example/ml-100k/ml-100k.inter"
DSLABS_DATA = "usr/lib/R/site-library/dslabs/data/Rdata"
COLUMNS = ["user_id", "item_id", "rating", "timestamp"]
OUTPUT_SHA256 = {
    "movielens_100k": "54523fa2a743d3c1787a072247365002038b3783b45e47bca373c6a7e1ec3a83",
    "movielens_latest_small": "485d709e708d612eee32ef193db0bc6ba1d77ff2c4b8b2a729b2ef13c485778a",
}


def movielens_100k(wheel: Path) -> pd.DataFrame:
    """RecBole's atomic file: tab-separated, header `user_id:token item_id:token rating:float timestamp:float`."""
    with zipfile.ZipFile(wheel) as archive:
        raw = archive.read(RECBOLE_INTER)
    frame = pd.read_csv(io.BytesIO(raw), sep="\t")
    frame.columns = [name.split(":")[0] for name in frame.columns]
    return _tidy(frame[COLUMNS])


def movielens_latest_small(deb: Path) -> pd.DataFrame:
    """dslabs' `movielens` data frame, read out of R's lazy-load database without R.

    Rdata.rdx (gzip) maps each object to (offset, length) in Rdata.rdb, where each object is a 4-byte
    length followed by a zlib stream of R's serialization, which the `rdata` package parses.
    """
    import rdata  # in .tools/realdata-venv only: not a dependency of the project

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["dpkg-deb", "-x", str(deb), tmp], check=True)
        base = Path(tmp) / DSLABS_DATA
        index = rdata.conversion.convert(_parse_r(gzip.decompress(base.with_suffix(".rdx").read_bytes())))
        offset, length = (int(v) for v in index["variables"]["movielens"])
        blob = base.with_suffix(".rdb").read_bytes()[offset : offset + length]
    frame = rdata.conversion.convert(_parse_r(zlib.decompress(blob[4:]), expand_altrep=True))
    frame = frame.rename(columns={"userId": "user_id", "movieId": "item_id"})
    return _tidy(frame[COLUMNS])


def _parse_r(data: bytes, **options: bool):
    """R's serialization parsed by rdata, without its warning that the bytes lack an RDS header."""
    import rdata

    with warnings.catch_warnings():
        # the lazy-load database holds bare serializations: no header is expected there
        warnings.filterwarnings("ignore", "Unknown file type: assumed RDS")
        return rdata.parser.parse_data(data, **options)


def _tidy(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.astype({"user_id": "int64", "item_id": "int64", "rating": "float64", "timestamp": "int64"})
    return frame.sort_values(["timestamp", "user_id", "item_id"]).reset_index(drop=True)


def write(frame: pd.DataFrame, name: str, out: Path) -> Path:
    """A gzip whose header holds no name or time, so the bytes depend on the rows only.

    Written beside the target and renamed, so a failed run never leaves a half file under the name
    the loader reads; bytes other than the pinned ones are refused.
    """
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.csv.gz"
    text = frame.to_csv(index=False, float_format="%g").encode()
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as gz:
        gz.write(text)
    got = hashlib.sha256(buffer.getvalue()).hexdigest()
    if got != OUTPUT_SHA256[name]:
        raise SystemExit(
            f"error: {path.name} would have sha256 {got}, not the pinned {OUTPUT_SHA256[name]} "
            "(benchmarks/install_real_logs.py): the package or the conversion changed; not written"
        )
    partial = path.with_suffix(".partial")
    partial.write_bytes(buffer.getvalue())
    partial.replace(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--recbole-wheel", type=Path, required=True)
    parser.add_argument("--dslabs-deb", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="folder of the CSVs (.tools/realdata)")
    args = parser.parse_args()
    for name, frame in (
        ("movielens_100k", movielens_100k(args.recbole_wheel)),
        ("movielens_latest_small", movielens_latest_small(args.dslabs_deb)),
    ):
        print(write(frame, name, args.out), len(frame), "rows")


if __name__ == "__main__":
    main()

"""Two small containers the simulation keeps its state in.

`Columns`: named numpy arrays that grow by amortised doubling (customers sign up every day, so
re-concatenating 100k-row arrays daily would dominate the run time). Reading a column gives a
view of the live rows, so `cols.alive[rows] = False` writes through.

`Agenda`: records due on a future day (pending returns, reviews, counter changes), kept per day.
"""

from __future__ import annotations

import numpy as np


class Columns:
    def __init__(self, **arrays: np.ndarray) -> None:
        data = {k: np.asarray(v) for k, v in arrays.items()}
        sizes = {len(v) for v in data.values()}
        if len(sizes) != 1:
            raise ValueError(f"columns of different lengths: { {k: len(v) for k, v in data.items()} }")
        object.__setattr__(self, "_data", data)
        object.__setattr__(self, "n", sizes.pop())

    def __getattr__(self, name: str) -> np.ndarray:
        try:
            return self.__dict__["_data"][name][: self.__dict__["n"]]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value) -> None:
        raise AttributeError(f"assign into a column (cols.{name}[...] = ...), not the attribute")

    def __len__(self) -> int:
        return self.n

    def append(self, **arrays: np.ndarray) -> None:
        if set(arrays) != set(self._data):
            raise ValueError(f"append needs exactly the columns {sorted(self._data)}, got {sorted(arrays)}")
        m = len(next(iter(arrays.values())))
        need = self.n + m
        for name, current in self._data.items():
            if need > len(current):
                grown = np.zeros((max(need, 2 * len(current), 16),) + current.shape[1:], dtype=current.dtype)
                grown[: self.n] = current[: self.n]
                self._data[name] = current = grown
            current[self.n : need] = arrays[name]
        object.__setattr__(self, "n", need)

    def take(self, rows: np.ndarray) -> Columns:
        return Columns(**{k: v[: self.n][rows] for k, v in self._data.items()})

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {k: v[: self.n] for k, v in self._data.items()}


class Agenda:
    def __init__(self, dtypes: dict[str, type]) -> None:
        self.dtypes = dict(dtypes)
        self._due: dict[int, list[dict[str, np.ndarray]]] = {}

    def add(self, days: np.ndarray, **cols: np.ndarray) -> None:
        days = np.asarray(days, dtype=np.int64)
        if len(days) == 0:
            return
        order = np.argsort(days, kind="stable")
        sorted_days = days[order]
        starts = np.flatnonzero(np.r_[True, sorted_days[1:] != sorted_days[:-1]])
        ends = np.r_[starts[1:], len(days)]
        arrays = {k: np.asarray(cols[k], dtype=t)[order] for k, t in self.dtypes.items()}
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
            self._due.setdefault(int(sorted_days[s]), []).append({k: v[s:e] for k, v in arrays.items()})

    def _gather(self, chunks: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        if not chunks:
            return {k: np.zeros(0, dtype=t) for k, t in self.dtypes.items()}
        return {k: np.concatenate([c[k] for c in chunks]) for k in self.dtypes}

    def pop(self, day: int) -> dict[str, np.ndarray]:
        return self._gather(self._due.pop(day, []))

    def peek(self, day: int) -> dict[str, np.ndarray]:
        return self._gather(self._due.get(day, []))

    def __len__(self) -> int:
        return sum(len(c[next(iter(self.dtypes))]) for chunks in self._due.values() for c in chunks)

    def to_arrays(self) -> dict[str, np.ndarray]:
        days = sorted(self._due)
        merged = {d: self._gather(self._due[d]) for d in days}
        out = {
            "day": np.concatenate([np.full(len(merged[d][next(iter(self.dtypes))]), d) for d in days])
            if days
            else np.zeros(0, dtype=np.int64)
        }
        for k, t in self.dtypes.items():
            out[k] = np.concatenate([merged[d][k] for d in days]) if days else np.zeros(0, dtype=t)
        return out

    @classmethod
    def from_arrays(cls, dtypes: dict[str, type], arrays: dict[str, np.ndarray]) -> Agenda:
        agenda = cls(dtypes)
        agenda.add(arrays["day"], **{k: arrays[k] for k in dtypes})
        return agenda

    def remapped(self, column: str, mapping: np.ndarray) -> Agenda:
        """A copy where `column` values v become mapping[v]; records mapped to -1 are dropped."""
        out = Agenda(self.dtypes)
        for day, chunks in self._due.items():
            for chunk in chunks:
                new = mapping[chunk[column]]
                keep = new >= 0
                if keep.any():
                    moved = {k: v[keep] for k, v in chunk.items()}
                    moved[column] = new[keep].astype(self.dtypes[column])
                    out._due.setdefault(day, []).append(moved)
        return out

    def tiled(self, column: str, copies: int, stride: int) -> Agenda:
        """A copy holding every record `copies` times, `column` shifted by k * stride in copy k."""
        out = Agenda(self.dtypes)
        for day, chunks in self._due.items():
            for chunk in chunks:
                for k in range(copies):
                    moved = dict(chunk)
                    moved[column] = (chunk[column] + k * stride).astype(self.dtypes[column])
                    out._due.setdefault(day, []).append(moved)
        return out

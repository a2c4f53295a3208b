"""Saving and loading the world after the last generated day (OUT/_state: arrays.npz + meta.json).

Everything is stored losslessly (npz keeps every bit), so a loaded world continues exactly as the
in-memory one would have; so is the demand truth's rank cache (derived, but slow to rebuild). The
directory is replaced atomically; a run killed during the swap is recovered from the previous copy.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ecomm.datagen.campaigns import RegionalState, TargetedState
from ecomm.datagen.catalog import CatalogModel
from ecomm.datagen.columns import Agenda, Columns
from ecomm.datagen.config import GeneratorConfig, GeneratorError, Plan
from ecomm.datagen.process import DELTA_DTYPES, ProcessState
from ecomm.datagen.render import RETURN_DTYPES, REVIEW_DTYPES, Ids
from ecomm.datagen.writer import replace_dir
from ecomm.entities import STATE_DIR

STATE_VERSION = 3  # 2: personas, purchase and value truth; 3: demand truth
_TARGETED_ARRAYS = (
    "members",
    "treated",
    "tau",
    "band",
    "seeker",
    "p_assign",
    "outcome_realised",
    "outcome_on",
    "outcome_off",
)
_REGIONAL_ARRAYS = ("members", "treated", "outcome_realised", "outcome_off")


def _put_columns(arrays: dict, prefix: str, cols: Columns) -> None:
    for name, values in cols.to_arrays().items():
        arrays[f"{prefix}.{name}"] = values


def _get_columns(arrays: dict, prefix: str) -> Columns:
    cut = len(prefix) + 1
    return Columns(**{k[cut:]: arrays[k] for k in arrays if k.startswith(prefix + ".")})


def _put_agenda(arrays: dict, prefix: str, agenda: Agenda) -> None:
    for name, values in agenda.to_arrays().items():
        arrays[f"{prefix}:{name}"] = values


def _get_agenda(arrays: dict, prefix: str, dtypes: dict) -> Agenda:
    return Agenda.from_arrays(dtypes, {k: arrays[f"{prefix}:{k}"] for k in ("day", *dtypes)})


def _put_process(arrays: dict, prefix: str, ps: ProcessState | None) -> None:
    if ps is not None:
        _put_columns(arrays, prefix, ps.cols)
        _put_agenda(arrays, prefix, ps.pending)


def _get_process(arrays: dict, prefix: str) -> ProcessState | None:
    if f"{prefix}.gidx" not in arrays:
        return None
    return ProcessState(_get_columns(arrays, prefix), _get_agenda(arrays, prefix, DELTA_DTYPES))


def save_state(world, out: Path) -> None:
    arrays: dict[str, np.ndarray] = {}
    _put_columns(arrays, "customers", world.customers)
    _put_columns(arrays, "products", world.products)
    _put_columns(arrays, "prefs", world.prefs)
    _put_columns(arrays, "churn_truth", world.churn_truth)
    _put_columns(arrays, "purchase_truth", world.purchase_truth)
    _put_columns(arrays, "value_truth", world.value_truth)
    _put_columns(arrays, "demand_truth", world.demand_truth)
    # derived, but slow to rebuild (every customer's rank integrals) on each next-day run
    for name, values in world.rank_cache.to_arrays().items():
        arrays[f"rank_cache:{name}"] = values
    _put_process(arrays, "main", world.main)
    _put_agenda(arrays, "returns_due", world.returns_due)
    _put_agenda(arrays, "reviews_due", world.reviews_due)
    arrays["model.centroids"] = world.model.centroids
    arrays["model.brand_bias"] = world.model.brand_bias
    meta = {
        "version": STATE_VERSION,
        "config": world.config.to_json(),
        "plan": world.plan.to_json(),
        "ids": asdict(world.ids),
        "last_day": world.last_day,
        "provisional_snapshot": world.provisional_snapshot,
        "rows_total": world.rows_total,
        "snapshot_stats": world.snapshot_stats,
        "brand_names": world.model.brand_names.tolist(),
    }
    t = world.targeted
    if t is not None:
        for name in _TARGETED_ARRAYS:
            arrays[f"targeted.{name}"] = getattr(t, name)
        meta["targeted_n_at_exposure"] = t.n_at_exposure
        _put_process(arrays, "targeted_on", t.arm_on)
        _put_process(arrays, "targeted_off", t.arm_off)
    r = world.regional
    if r is not None:
        for name in _REGIONAL_ARRAYS:
            arrays[f"regional.{name}"] = getattr(r, name)
        _put_process(arrays, "regional_off", r.arm_off)

    tmp = out / f".tmp-{STATE_DIR}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    np.savez(tmp / "arrays.npz", **arrays)
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
    replace_dir(tmp, out / STATE_DIR)


def state_dir(out: Path) -> Path:
    """The state directory, recovering the previous copy if a run died while swapping it."""
    final, old = out / STATE_DIR, out / f".old-{STATE_DIR}"
    if not final.exists() and old.exists():
        old.rename(final)
    if not (final / "meta.json").exists() or not (final / "arrays.npz").exists():
        raise GeneratorError(
            f"no generator state in {final}: create the world first with generate_history "
            f"(`ecomm generate --out {out}`)"
        )
    return final


def load_state(out: Path):
    from ecomm.datagen.world import World

    folder = state_dir(out)
    meta = json.loads((folder / "meta.json").read_text())
    if meta.get("version") != STATE_VERSION:
        raise GeneratorError(
            f"{folder}: state version {meta.get('version')} is not {STATE_VERSION}; "
            "regenerate the world with generate_history"
        )
    with np.load(folder / "arrays.npz", allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    model = CatalogModel(
        arrays["model.centroids"], np.array(meta["brand_names"], dtype=object), arrays["model.brand_bias"]
    )
    world = World(
        GeneratorConfig.from_json(meta["config"]),
        Plan.from_json(meta["plan"]),
        model,
        _get_columns(arrays, "customers"),
        _get_columns(arrays, "products"),
        _get_columns(arrays, "prefs"),
        _get_process(arrays, "main"),
    )
    world.churn_truth = _get_columns(arrays, "churn_truth")
    world.purchase_truth = _get_columns(arrays, "purchase_truth")
    world.value_truth = _get_columns(arrays, "value_truth")
    world.demand_truth = _get_columns(arrays, "demand_truth")
    world.rank_cache.restore({k: arrays[f"rank_cache:{k}"] for k in ("items", "logw", "summary")})
    world.returns_due = _get_agenda(arrays, "returns_due", RETURN_DTYPES)
    world.reviews_due = _get_agenda(arrays, "reviews_due", REVIEW_DTYPES)
    world.ids = Ids(**meta["ids"])
    world.last_day = meta["last_day"]
    world.provisional_snapshot = meta["provisional_snapshot"]
    world.rows_total = meta["rows_total"]
    world.snapshot_stats = meta["snapshot_stats"]
    if "targeted.members" in arrays:
        world.targeted = TargetedState(
            **{k: arrays[f"targeted.{k}"] for k in _TARGETED_ARRAYS},
            n_at_exposure=meta["targeted_n_at_exposure"],
            arm_on=_get_process(arrays, "targeted_on"),
            arm_off=_get_process(arrays, "targeted_off"),
        )
    if "regional.members" in arrays:
        world.regional = RegionalState(
            **{k: arrays[f"regional.{k}"] for k in _REGIONAL_ARRAYS},
            arm_off=_get_process(arrays, "regional_off"),
        )
    return world

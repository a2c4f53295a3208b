"""Models trained from the warehouse, tracked and registered in MLflow (issue 4).

Stages: features (ecomm.features, SQL) -> train (churn.train, recommend.train) -> evaluate
(churn.evaluate, recommend.evaluate, metrics) -> registry (registry, tracking). `report` runs
`ecomm evaluate`; `serving` holds the self-contained pyfunc classes that are registered.

Public API (imported lazily, so `import ecomm.ml` stays cheap):
    train_churn(settings, ChurnConfig) -> ChurnResult
    train_recommender(settings, RecConfig) -> RecResult
    evaluate(settings) -> Evaluation;  write_report(evaluation, out_dir)
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "ChurnConfig": "ecomm.ml.churn.train",
    "ChurnResult": "ecomm.ml.churn.train",
    "train_churn": "ecomm.ml.churn.train",
    "RecConfig": "ecomm.ml.recommend.train",
    "RecResult": "ecomm.ml.recommend.train",
    "train_recommender": "ecomm.ml.recommend.train",
    "Evaluation": "ecomm.ml.report",
    "evaluate": "ecomm.ml.report",
    "write_report": "ecomm.ml.report",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'ecomm.ml' has no attribute {name!r}")

"""An empty migrated warehouse and an empty MLflow database beside it, for a test that fills the
warehouse its own way (an import) and trains on it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from ecomm import db
from ecomm.settings import Settings


@contextmanager
def empty_world(template_warehouse: Settings, prefix: str) -> Iterator[Settings]:
    """Settings of a copy of the template's (migrated, empty) warehouse and a new MLflow database,
    seed 7 and a 0.005 promotion margin; both databases are dropped at the end."""
    suffix = uuid.uuid4().hex[:8]
    names = (f"{prefix}w_{suffix}", f"{prefix}mlflow_{suffix}")
    db.create_database(template_warehouse, names[0], template=template_warehouse.warehouse_db)
    try:
        yield template_warehouse.model_copy(
            update={"warehouse_db": names[0], "mlflow_db": names[1], "promotion_margin": 0.005, "seed": 7}
        )
    finally:
        for name in names:
            db.drop_database(template_warehouse, name)

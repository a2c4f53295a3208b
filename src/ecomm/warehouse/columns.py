"""Column-name sets by type, derived from the raw contract (`ecomm.entities`); kept for callers that
look a column up by its bare name (the loader's COPY). The declarations are the source."""

from __future__ import annotations

import pyarrow as pa

from ecomm.entities import ENTITIES
from ecomm.warehouse.contract import ARROW_TYPES, kind


def _named(*kinds: str) -> frozenset[str]:
    return frozenset(c.name for e in ENTITIES for c in e.fields if kind(c) in kinds)


INT_COLUMNS = _named("integer")
FLOAT_COLUMNS = _named("numeric")
DATE_COLUMNS = _named("date")
TS_COLUMNS = _named("timestamp")
BOOL_COLUMNS = _named("boolean")
_KINDS = {c.name: kind(c) for e in ENTITIES for c in e.fields}


def arrow_type(column: str) -> pa.DataType:
    return ARROW_TYPES[_KINDS.get(column, "text")]

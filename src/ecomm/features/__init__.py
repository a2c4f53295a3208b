"""Point-in-time feature and label builders (SQL over the warehouse). Never reads the `truth` schema."""

from ecomm.features.churn import (
    CutoffPlan,
    FeatureError,
    WarehouseSpan,
    churn_features,
    churn_labels,
    feature_columns,
    labelled_frame,
    plan_cutoffs,
    stack_cutoffs,
    warehouse_span,
)

__all__ = [
    "CutoffPlan",
    "FeatureError",
    "WarehouseSpan",
    "churn_features",
    "churn_labels",
    "feature_columns",
    "labelled_frame",
    "plan_cutoffs",
    "stack_cutoffs",
    "warehouse_span",
]

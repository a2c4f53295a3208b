"""Churn: dataset (cutoffs, labels) -> model (pipelines, signature) -> train -> evaluate."""

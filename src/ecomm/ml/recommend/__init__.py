"""Recommender: dataset (temporal split) -> model (ALS, SVD, popularity) -> train -> evaluate."""

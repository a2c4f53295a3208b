"""Customer segmentation: K-Means on point-in-time behavioural features (ecomm.features.segments).

Stages, one module each: scaling (log1p for skewed features, standardise), kselect (k over 3..10 by
silhouette, Calinski-Harabasz, Davies-Bouldin and bootstrap stability), naming (names and profiles
derived from the centroids), evaluate (ARI against a labelling and the RFM-quintile baseline),
gate (champion/challenger), train (`ecomm train segments`).
"""

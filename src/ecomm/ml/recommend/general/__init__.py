"""A recommender library on any interaction log: candidate generators, a LightGBM re-ranker and a
fit/recommend facade. DB-free; the shop's served recommender stays in `ecomm.ml.recommend`."""

"""A recommender library on any interaction log, DB-free; the shop's served recommender stays in
`ecomm.ml.recommend`. One job per module:

    interactions  the interactions frame, Params, validation, row weights, temporal_split
    log           a validated frame as codes, weighted and seen matrices, item statistics
    candidates    generators: ALS, item-kNN (cosine, BM25), recent/all-time popularity, category
    features      the generators' candidates merged, with item and user-item features
    rerank        labelled candidates on label windows after their feature rows; the LightGBM ranker
    recommender   GeneralRecommender: fit / recommend, cold-start users and new items labelled
    evaluate      relevant items after the training rows; the shared ranking metrics
    tune          a small Params grid judged on a validation split after the rows it fits on
    shop          the shop adapter: the warehouse's events and catalog as the frames above
"""

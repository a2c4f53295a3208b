"""Purchase propensity: P(at least one completed order in the next 30 days) for every customer.

Stages, one module each: dataset (point-in-time frames at monthly cutoffs, ecomm.features.purchase;
the planted truth for evaluation only), evaluate (ROC-AUC, accuracy and top-decile lift of any
scorer; the majority-class and recency-rule baselines), train (`ecomm train purchase`).
"""

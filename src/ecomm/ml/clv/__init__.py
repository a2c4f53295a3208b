"""Customer lifetime value: BG/NBD for the purchase process and Gamma-Gamma for spend, fitted by
maximum likelihood (btyd), measured against a historical-average baseline and the planted value
truth (evaluate), gated (the churn gate, ecomm.ml.registry.promotion_gate) and stored (train:
`ecomm train clv`).
"""

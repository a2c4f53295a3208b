"""Causal effect estimators for any pandas DataFrame, given treatment, outcome and covariate names.

Every estimator returns an `Estimate` (point, interval, counts, method-specific details);
`estimates_frame` turns a list of them into a table, optionally beside the known truth.

Everything is imported lazily: importing this package stays fast.
"""

import importlib

# name -> module: imported on first use, so `import ecomm.causal.cli` (every `ecomm` command) does
# not pay for sklearn, statsmodels and matplotlib.
_EXPORTS = {
    "balance_table": "balance",
    "love_plot": "balance",
    "naive_difference": "basic",
    "regression_adjustment": "basic",
    "PreTrendTest": "did",
    "difference_in_differences": "did",
    "event_study": "did",
    "event_study_plot": "did",
    "pre_trend_test": "did",
    "FittedDML": "dml",
    "cate_by_segment": "dml",
    "dml_ate": "dml",
    "fit_dml": "dml",
    "dowhy_estimate": "dowhy_wrappers",
    "dowhy_refute": "dowhy_wrappers",
    "inverse_propensity_weighting": "propensity",
    "propensity_model": "propensity",
    "propensity_score_matching": "propensity",
    "propensity_scores": "propensity",
    "Estimate": "results",
    "estimates_frame": "results",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"ecomm.causal.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'ecomm.causal' has no attribute {name!r}")


__all__ = [
    "Estimate",
    "FittedDML",
    "PreTrendTest",
    "balance_table",
    "cate_by_segment",
    "difference_in_differences",
    "dml_ate",
    "dowhy_estimate",
    "dowhy_refute",
    "estimates_frame",
    "event_study",
    "event_study_plot",
    "fit_dml",
    "inverse_propensity_weighting",
    "love_plot",
    "naive_difference",
    "pre_trend_test",
    "propensity_model",
    "propensity_score_matching",
    "propensity_scores",
    "regression_adjustment",
]

"""Causal effect estimators for any pandas DataFrame, given treatment, outcome and covariate names.

Every estimator returns an `Estimate` (point, interval, counts, method-specific details);
`estimates_frame` turns a list of them into a table, optionally beside the known truth.

DoWhy and EconML are imported lazily (inside their functions): importing this package stays fast.
"""

from ecomm.causal.balance import balance_table, love_plot
from ecomm.causal.basic import naive_difference, regression_adjustment
from ecomm.causal.did import (
    PreTrendTest,
    difference_in_differences,
    event_study,
    event_study_plot,
    pre_trend_test,
)
from ecomm.causal.dml import FittedDML, cate_by_segment, dml_ate, fit_dml
from ecomm.causal.dowhy_wrappers import dowhy_estimate, dowhy_refute
from ecomm.causal.propensity import (
    inverse_propensity_weighting,
    propensity_model,
    propensity_score_matching,
    propensity_scores,
)
from ecomm.causal.results import Estimate, estimates_frame

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

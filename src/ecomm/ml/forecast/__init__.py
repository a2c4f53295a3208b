"""Demand forecasting on any long frame (series_id, date, y[, exogenous...]), daily.

frame    - checks a long frame and puts it on a complete daily grid (missing days are 0 sales)
models   - the model catalogue: statsforecast's seasonal naive, AutoETS and, for intermittent series,
           Croston (optimized), ADIDA and IMAPA; a global LightGBM model over every series (mlforecast)
backtest - rolling-origin backtests (refit at every origin) and their error table by horizon:
           MASE, sMAPE, bias and the coverage of the 80% and 95% intervals (ecomm.ml.metrics)

Nothing here reads the warehouse or downloads anything; statsforecast and mlforecast are imported
when a model runs (their import alone takes seconds).
"""

from ecomm.dashboard.layout import show
from ecomm.dashboard.pages import churn_risk

show(churn_risk)

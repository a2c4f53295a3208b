from ecomm.dashboard.layout import show
from ecomm.dashboard.pages import demand

show(demand)

from ecomm.dashboard.layout import show
from ecomm.dashboard.pages import monitoring

show(monitoring)

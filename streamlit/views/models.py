from ecomm.dashboard.layout import show
from ecomm.dashboard.pages import models

show(models)

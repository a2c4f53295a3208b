from ecomm.dashboard.layout import show
from ecomm.dashboard.pages import segments

show(segments)

"""Monitoring: distribution drift (PSI, KS) of warehouse data; model performance joins with `ecomm.ml`."""

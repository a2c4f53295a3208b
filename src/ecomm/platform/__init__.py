"""The local platform behind `make up` / `make down` / `make status` (no Docker needed).

Today it runs the database and the warehouse; the services (Airflow, MLflow, the API, the
dashboard, JupyterLab) join here as they land.
"""

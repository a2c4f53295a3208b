"""Airflow for the platform: its configuration from our Settings, its metadata database, and what
the DAGs in `airflow/dags/` share (the warehouse Asset, default arguments, the business date).

`ecomm.orchestration.config` never imports Airflow (the platform runner and the tests use it to
start Airflow processes); `assets` and `dag_support` do and are imported by the DAG files only.
"""

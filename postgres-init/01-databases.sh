#!/usr/bin/env bash
# Run once by the postgres container on first start (an empty data volume), as POSTGRES_USER.
# docs/architecture.md#databases-and-schemas: one server, three databases, each owned by its own login role:
#   data_warehouse   <- ECOMM_DB_USER   (the ecomm package: loads, features, API, dashboard)
#   airflow_metadata <- AIRFLOW_DB_USER (Airflow's metadata)
#   mlflow_tracking  <- MLFLOW_DB_USER  (the MLflow tracking server's backend store)
# No role is a superuser; each may connect to its own database only (CONNECT revoked from PUBLIC).
# Passwords come from the environment (docker-compose.yml passes them from .env), never from here.
set -euo pipefail

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v warehouse_db="${ECOMM_WAREHOUSE_DB:-data_warehouse}" \
    -v airflow_db="${ECOMM_AIRFLOW_DB:-airflow_metadata}" \
    -v mlflow_db="${ECOMM_MLFLOW_DB:-mlflow_tracking}" \
    -v ecomm_user="${ECOMM_DB_USER:-ecomm}" -v ecomm_password="${ECOMM_DB_PASSWORD:?}" \
    -v airflow_user="${AIRFLOW_DB_USER:-airflow}" -v airflow_password="${AIRFLOW_DB_PASSWORD:?}" \
    -v mlflow_user="${MLFLOW_DB_USER:-mlflow}" -v mlflow_password="${MLFLOW_DB_PASSWORD:?}" <<'SQL'
CREATE ROLE :"ecomm_user" LOGIN PASSWORD :'ecomm_password';
CREATE ROLE :"airflow_user" LOGIN PASSWORD :'airflow_password';
CREATE ROLE :"mlflow_user" LOGIN PASSWORD :'mlflow_password';

CREATE DATABASE :"warehouse_db" OWNER :"ecomm_user";
CREATE DATABASE :"airflow_db" OWNER :"airflow_user";
CREATE DATABASE :"mlflow_db" OWNER :"mlflow_user";

REVOKE ALL ON DATABASE :"warehouse_db" FROM PUBLIC;
REVOKE ALL ON DATABASE :"airflow_db" FROM PUBLIC;
REVOKE ALL ON DATABASE :"mlflow_db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"warehouse_db" TO :"ecomm_user";
GRANT CONNECT, TEMPORARY ON DATABASE :"airflow_db" TO :"airflow_user";
GRANT CONNECT, TEMPORARY ON DATABASE :"mlflow_db" TO :"mlflow_user";
SQL

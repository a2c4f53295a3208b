"""The prediction API (FastAPI): `ecomm serve api` runs `ecomm.api.app:create_app` under uvicorn."""

"""The dashboard's entry point: `streamlit run streamlit/app.py` (all logic is in ecomm.dashboard)."""

from pathlib import Path

from ecomm.dashboard.app import main

main(Path(__file__).parent / "views")

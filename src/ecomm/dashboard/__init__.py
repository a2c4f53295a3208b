"""The Streamlit dashboard: business pages over the warehouse marts and the registered champions.

`streamlit/app.py` (the entry point) calls `ecomm.dashboard.app.main`; each page is a module of
`ecomm.dashboard.pages` with a `render()`; `source` owns the pooled connection and the cache,
`queries` the parameterised SQL, `filters` the sidebar filters every page honours.
"""

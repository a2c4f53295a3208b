"""The real-time path: events posted to the API (`ingest`, `writer`), live KPIs (`kpis`) fanned out
to WebSocket clients (`fanout`) and shown by a static page (`live.html`)."""

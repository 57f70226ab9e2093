"""Read API for integrators (FastAPI), shared read views and user actions (also used by the CLI)."""

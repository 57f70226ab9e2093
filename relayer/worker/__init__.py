"""Celery wiring of the roles: the app, its tasks and the beat schedule."""

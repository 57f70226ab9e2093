"""Deployment to real networks: a plan per network, timelocked governance, deployments/<network>.json."""

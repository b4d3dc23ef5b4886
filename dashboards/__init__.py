"""Grafana boards as code (the production issue); they read the store schema."""

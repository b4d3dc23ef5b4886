"""Alarm records and the notifiers that tell people. Imports ``sensors`` only."""

"""Inspection and safety reports: daily, weekly, monthly and quarterly, for one site.

``ReportBuilder`` reads the stores through narrow Protocols (``sources``) and computes a
``ReportOut`` (``model``); ``html`` and ``csv_export`` print it; ``router`` serves all
three at GET /api/reports/{site}/{period}.
"""

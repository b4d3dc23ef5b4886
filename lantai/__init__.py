"""The composition root: settings, CLI, wiring and the service runner. Nothing imports it."""

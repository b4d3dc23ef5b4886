"""Inspections: scheduled patrols, checks, sweeps and assessments; hazards to closure."""

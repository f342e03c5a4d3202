"""Data: EHR sources, the cohort built from them, and the one suppression function."""

"""Model: the causal graph and its edits, the fitted network, metrics, report and session."""

"""Experiments run on the product: the simulated human-in-the-loop study."""

"""Discovery: counts, association measures, independence tests and the distiller."""

"""Teaching: beliefs, seeing vs doing, active trails, adjustment sets and scenarios."""

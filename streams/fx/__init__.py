"""FX domain definitions: market hours (and, after the renovation, pairs and sessions)."""

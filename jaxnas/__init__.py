"""jaxnas."""

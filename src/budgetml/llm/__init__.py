"""Models: one call in, one priced Completion out."""

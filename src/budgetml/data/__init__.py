"""Task data from offline registries: Debian packages and R lazy-load databases."""

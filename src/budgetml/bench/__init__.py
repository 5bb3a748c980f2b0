"""The benchmark harness: sweep tasks × configs × seeds, store results, write reports."""

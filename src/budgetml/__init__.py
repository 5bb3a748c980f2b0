"""BudgetML: cheap LLM agents that improve machine-learning projects."""

__version__ = "0.1.0"

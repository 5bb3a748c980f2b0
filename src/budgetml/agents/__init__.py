"""The agents: the planner, its reply parser and the workers it directs."""

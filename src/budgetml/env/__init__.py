"""The agent's world: the task, its workspace, the actions on it, and the sandbox for scripts."""

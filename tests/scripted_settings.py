"""Settings for runs driven by a fixed list of replies (a scripted model, not an LLM).

A trajectory is written in advance, so every action must be offered at every step: the
extended action set (Write File and the like), no known results held back, Final Answer at
any time. Tests that pin what a step offers use the defaults instead.
"""

EVERY_ACTION: dict[str, object] = {
    "action_set": "extended",
    "skip_known_results": False,
    "guide_steps": False,
}
EVERY_ACTION_YAML = "action_set: extended\nskip_known_results: false\nguide_steps: false\n"

"""The planner's reply format for a step, as a grammar (embedded models) and a JSON schema
(providers with structured output), and a structured reply turned back into the text format.

The grammar is the six labels in order, each with one line of bounded free text, `Action:` one
of the actions offered now and `Action Input:` a JSON object with exactly that action's keys,
file inputs limited to the workspace's files. Small models ignore instructions but cannot leave
a grammar; the free text is kept short because each sampled character costs time under one
(measured: a 148-token reply took 7.8 s free and 14.2 s under a grammar).
"""

from __future__ import annotations

import json
import re
from typing import Any

from budgetml.agents.step_options import PATH_CHARS, InputShape, Offer, StepOptions
from budgetml.llm.base import ReplyFormat

LABEL_CHARS: dict[str, int] = {
    "Reflection": 200,
    "Research Plan and Status": 300,
    "Fact Check": 150,
    "Thought": 200,
}
"""Longest text each free label may take under the grammar."""
JSON_KEYS = {label: label.lower().replace(" ", "_") for label in LABEL_CHARS}

_COMMON_RULES = r"""
line-char ::= [^\n<]
path-char ::= [{PATH_CHARS}]
json-char ::= [^"\\\x00-\x1f] | "\\" ["\\/nt]
integer ::= [1-9] [0-9]? [0-9]? [0-9]? [0-9]?
"""


def reply_format(options: StepOptions) -> ReplyFormat:
    """The format of a reply choosing one of `options`."""
    return ReplyFormat(
        name="planner-step",
        grammar=_grammar(options),
        json_schema=_schema(options),
    )


def _grammar(options: StepOptions) -> str:
    labels = [f'"{label}: " line-char{{1,{limit}}} "\\n"' for label, limit in LABEL_CHARS.items()]
    rules = [
        "root ::= " + " ".join(labels) + ' "Action: " action',
        "action ::= " + " | ".join(f"act{i}" for i in range(len(options.offers))),
    ]
    for index, offer in enumerate(options.offers):
        rules.append(f"act{index} ::= {_action_rule(offer)}")
    common = _COMMON_RULES.strip().replace("{PATH_CHARS}", PATH_CHARS)
    return "\n".join(rules) + "\n" + common + "\n"


def _action_rule(offer: Offer) -> str:
    head = _literal(f"{offer.name}\nAction Input: {{")
    linked = {s.same_as for s in offer.inputs if s.same_as}
    anchor = next((s for s in offer.inputs if s.name in linked and s.choices), None)
    if anchor is None or anchor.choices is None:
        return f'{head} {_keys_rule(offer.inputs, {})} "}}"'
    variants = [
        f'{head} {_keys_rule(offer.inputs, {anchor.name: value})} "}}"' for value in anchor.choices
    ]
    return "(" + " | ".join(variants) + ")"


def _keys_rule(shapes: tuple[InputShape, ...], fixed: dict[str, str]) -> str:
    parts = []
    for index, shape in enumerate(shapes):
        separator = ", " if index else ""
        key = _literal(f'{separator}"{shape.name}": ')
        parts.append(f"{key} {_value_rule(shape, fixed)}")
    return " ".join(parts) if parts else '""'


def _value_rule(shape: InputShape, fixed: dict[str, str]) -> str:
    if shape.same_as is not None and shape.same_as in fixed:
        return _literal(json.dumps(fixed[shape.same_as]))
    if shape.name in fixed:
        return _literal(json.dumps(fixed[shape.name]))
    if shape.integer:
        return "integer"
    if shape.choices is not None:
        return "(" + " | ".join(_literal(json.dumps(c)) for c in shape.choices) + ")"
    if shape.path:
        return f'"\\"" path-char{{1,{shape.max_chars}}} "\\""'
    return f'"\\"" json-char{{0,{shape.max_chars}}} "\\""'


def _literal(text: str) -> str:
    """A GBNF string literal."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _schema(options: StepOptions) -> dict[str, Any]:
    """One object: the four free sections, and `step`, one of the offered actions with its
    input (anyOf, which OpenAI's strict structured outputs accept). A value that must equal
    another key's is only a string here; the planner's parse checks choices."""
    steps = [
        {
            "type": "object",
            "properties": {
                "action": {"type": "string", "enum": [offer.name]},
                "action_input": {
                    "type": "object",
                    "properties": {s.name: _value_schema(s) for s in offer.inputs},
                    "required": [s.name for s in offer.inputs],
                    "additionalProperties": False,
                },
            },
            "required": ["action", "action_input"],
            "additionalProperties": False,
        }
        for offer in options.offers
    ]
    properties: dict[str, Any] = {key: {"type": "string"} for key in JSON_KEYS.values()}
    properties["step"] = {"anyOf": steps}
    return {
        "type": "object",
        "properties": properties,
        "required": [*JSON_KEYS.values(), "step"],
        "additionalProperties": False,
    }


def _value_schema(shape: InputShape) -> dict[str, Any]:
    """Only keywords OpenAI's strict mode takes (no length bounds: those stay the grammar's)."""
    if shape.integer:
        return {"type": "integer"}
    if shape.choices is not None:
        return {"type": "string", "enum": list(shape.choices)}
    return {"type": "string"}


_JSON_OBJECT = re.compile(r"^\s*(?:```(?:json)?\s*)?(\{.*\})\s*(?:```)?\s*$", re.DOTALL)


def as_reply_text(text: str) -> str:
    """A structured (JSON) reply in the six-label text format the parser reads; any other text
    unchanged (a provider without structured output answers in the text format)."""
    match = _JSON_OBJECT.match(text)
    if not match:
        return text
    try:
        data = json.loads(match.group(1))
    except json.JSONDecodeError:
        return text
    step = data.get("step") if isinstance(data, dict) else None
    if not isinstance(step, dict) or "action" not in step:
        return text
    lines = [
        f"{label}: {' '.join(str(data.get(key, '')).split())}" for label, key in JSON_KEYS.items()
    ]
    lines.append(f"Action: {step['action']}")
    lines.append(f"Action Input: {json.dumps(step.get('action_input', {}), ensure_ascii=False)}")
    return "\n".join(lines)

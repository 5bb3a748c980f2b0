"""Property tests: whatever bytes or JSON a model sends, the reply parser either returns a
usable action or raises FormatError (with a message to feed back), never anything else."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from budgetml.agents.parser import FormatError, PlannerReply, parse_reply
from budgetml.env.actions import ACTIONS

SIGNATURES = {action.name: action.input_names for action in ACTIONS}
ENCODINGS = ("utf-8", "latin-1", "utf-16")

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=30,
)
key_sets = st.sampled_from([list(keys) for keys in SIGNATURES.values()]) | st.lists(
    st.text(max_size=12), max_size=4
)


def parse(text: str) -> PlannerReply | None:
    """The parse, checked: a reply is a known action with exactly its keys and clean text."""
    try:
        reply = parse_reply(text, SIGNATURES)
    except FormatError as error:
        assert str(error).strip()
        return None
    assert reply.action in SIGNATURES
    assert list(reply.action_input) == list(SIGNATURES[reply.action])
    json.dumps(reply.action_input, ensure_ascii=False).encode("utf-8")  # no lone surrogates
    return reply


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2_000), st.sampled_from(ENCODINGS))
def test_random_bytes_are_a_format_error_or_an_action(data: bytes, encoding: str) -> None:
    for errors in ("replace", "surrogateescape", "ignore"):
        try:
            text = data.decode(encoding, errors)
        except UnicodeDecodeError:  # surrogateescape cannot place half a UTF-16 unit
            continue
        parse(text)
        parse("Action: List Files\nAction Input: " + text)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(SIGNATURES)), key_sets, st.lists(json_values, max_size=4))
def test_random_json_input_is_a_format_error_or_exactly_the_actions_keys(
    action: str, keys: list[str], values: list[Any]
) -> None:
    document = json.dumps(dict(zip(keys, values, strict=False)))
    reply = parse(f"Thought: t\nAction: {action}\nAction Input: {document}")
    if reply is not None:
        assert reply.action == action


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_any_json_document_as_the_input_is_handled(value: Any) -> None:
    for text in (json.dumps(value), json.dumps(value, ensure_ascii=False), repr(value)):
        parse(f"Action: Read File\nAction Input: {text}")
        parse(f"Action: Final Answer\nAction Input: ```json\n{text}\n```")


_drift = st.sampled_from(
    [
        "Action:", "Action: Action:", "Action Input:", "\n", "Reflection", "List Files",
        "Execute Script", "```", "```json\n", "{", "}", "[", "]", '"', "'", '"""', "'''", "\\",
        "\\u12", "\\CLRS", ",", ":", " ", "script_name", "dir_path", "Observation:",
    ]
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.lists(_drift | st.text(max_size=4), max_size=80).map("".join))
def test_replies_built_from_drift_fragments_are_a_format_error_or_an_action(text: str) -> None:
    """Labels twice, names on the next line, bad escapes, triple quotes and cut-off objects,
    in any order: never anything but an action or a FormatError."""
    parse(text)
    parse("Action:\nExecute Script\nAction Input: " + text)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDBFF), min_size=1))
def test_escaped_lone_surrogates_never_reach_an_action(surrogates: str) -> None:
    """High surrogates only: a high one followed by a low one would be a real character."""
    escaped = json.dumps(surrogates)  # "\\udXXX" escapes, which JSON decodes to surrogates
    reply = parse(f'Action: Write File\nAction Input: {{"file_name": {escaped}, "content": "x"}}')
    assert reply is not None and set(reply.action_input["file_name"]) == {"\ufffd"}

"""Tests for the planner reply parser: accepted drift, specific rejections, and fuzzing."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from budgetml.agents.parser import SECTIONS, FormatError, PlannerReply, parse_reply

ACTIONS: dict[str, list[str]] = {
    "List Files": ["dir_path"],
    "Read File": ["file_name"],
    "Write File": ["file_name", "content"],
    "Inspect Script Lines": ["script_name", "start_line_number", "end_line_number"],
    "Execute Script": ["script_name"],
    "Final Answer": ["final_answer"],
    "Reflection": ["things_to_reflect_on"],  # an action named like a section
    "Edit Script (AI)": ["script_name", "edit_instruction", "save_name"],
}

CANONICAL = """Reflection: The task is new.
Research Plan and Status: 1. Look at the files.
2. Train a baseline.
Fact Check: None yet.
Thought: I should list the files.
Action: List Files
Action Input: {"dir_path": "."}
"""

LIST = ("List Files", {"dir_path": "."})


def parse(text: str) -> PlannerReply:
    return parse_reply(text, ACTIONS)


DRIFT: list[tuple[str, str, tuple[str, dict[str, Any]]]] = [
    ("canonical", CANONICAL, LIST),
    ("bold inside", '**Action:** List Files\n**Action Input:** {"dir_path": "."}', LIST),
    ("bold outside", '**Action**: List Files\n**Action Input**: {"dir_path": "."}', LIST),
    ("headings", '## Action\nList Files\n## Action Input\n{"dir_path": "."}', LIST),
    ("h3 with colon", '### Action: List Files\n### Action Input: {"dir_path": "."}', LIST),
    ("space before colon", 'Action : List Files\nAction Input : {"dir_path": "."}', LIST),
    ("lower case", 'action: list files\naction input: {"dir_path": "."}', LIST),
    ("upper case", 'ACTION: LIST FILES\nACTION INPUT: {"dir_path": "."}', LIST),
    ("bullets", '- Action: List Files\n  - Action Input: {"dir_path": "."}', LIST),
    ("underscored label", 'Action: List Files\nAction_Input: {"dir_path": "."}', LIST),
    ("backticks", 'Action: `List Files`\nAction Input: {"dir_path": "."}', LIST),
    ("quotes", 'Action: "List Files"\nAction Input: {"dir_path": "."}', LIST),
    ("bold name", 'Action: **List Files**\nAction Input: {"dir_path": "."}', LIST),
    ("trailing period", 'Action: List Files.\nAction Input: {"dir_path": "."}', LIST),
    ("snake case name", 'Action: list_files\nAction Input: {"dir_path": "."}', LIST),
    ("json on action line", 'Action: List Files {"dir_path": "."}', LIST),
    ("both on one line", 'Action: List Files Action Input: {"dir_path": "."}', LIST),
    ("fence on action line", 'Action: List Files ```json\n{"dir_path": "."}\n```', LIST),
    ("triple backticks", 'Action: ```List Files```\nAction Input: {"dir_path": "."}', LIST),
    ("json on next line", 'Action: List Files\n{"dir_path": "."}', LIST),
    ("json fence", 'Action: List Files\nAction Input:\n```json\n{"dir_path": "."}\n```', LIST),
    ("plain fence", 'Action: List Files\nAction Input: ```\n{"dir_path": "."}\n```', LIST),
    ("single quotes", "Action: List Files\nAction Input: {'dir_path': '.'}", LIST),
    ("trailing comma", 'Action: List Files\nAction Input: {"dir_path": ".",\n}', LIST),
    ("unquoted key", 'Action: List Files\nAction Input: {dir_path: "."}', LIST),
    ("trailing prose", 'Action: List Files\nAction Input: {"dir_path": "."} to see files', LIST),
    ("prose before", 'Action: List Files\nAction Input: here it is {"dir_path": "."}', LIST),
    (
        "hallucinated observation",
        'Action: List Files\nAction Input: {"dir_path": "."}\nObservation: train.py\n'
        'Action: Read File\nAction Input: {"file_name": "x"}',
        LIST,
    ),
    ("crlf", 'Thought: go\r\nAction: List Files\r\nAction Input: {"dir_path": "."}\r\n', LIST),
    (
        "plan mentions an action",
        "Research Plan and Status:\n- Action: Read File later\nThought: first list\n"
        'Action: List Files\nAction Input: {"dir_path": "."}',
        LIST,
    ),
    (
        "second block ignored",
        'Action: List Files\nAction Input: {"dir_path": "."}\n'
        'Action: Read File\nAction Input: {"file_name": "a.py"}',
        LIST,
    ),
    (
        "bare value",
        "Action: Read File\nAction Input: train.py",
        ("Read File", {"file_name": "train.py"}),
    ),
    (
        "bare json string",
        'Action: Read File\nAction Input: "train.py"',
        ("Read File", {"file_name": "train.py"}),
    ),
    (
        "bare single quotes",
        "Action: Read File\nAction Input: 'a b.py'",
        ("Read File", {"file_name": "a b.py"}),
    ),
    (
        "bare backticks",
        "Action: Read File\nAction Input: `train.py`",
        ("Read File", {"file_name": "train.py"}),
    ),
    (
        "bare value then observation",
        "Action: Execute Script\nAction Input: train.py\nObservation: it ran",
        ("Execute Script", {"script_name": "train.py"}),
    ),
    (
        "bare fenced multi-line answer",
        "Action: Final Answer\nAction Input:\n```\nAccuracy is 0.9.\nDone.\n```",
        ("Final Answer", {"final_answer": "Accuracy is 0.9.\nDone."}),
    ),
    (
        "prose with an object for a one-key action",
        'Action: Final Answer\nAction Input: scores were {"acc": 0.9}',
        ("Final Answer", {"final_answer": 'scores were {"acc": 0.9}'}),
    ),
    (
        "raw newline and tab in string",
        'Action: Write File\nAction Input: {"file_name": "a.py", "content": "x = 1\n\ty = 2"}',
        ("Write File", {"file_name": "a.py", "content": "x = 1\n\ty = 2"}),
    ),
    (
        "trailing spaces inside a multi-line string",
        'Action: Write File\nAction Input: {"file_name": "a", "content": "x  \n  "}',
        ("Write File", {"file_name": "a", "content": "x  \n  "}),
    ),
    (
        "labels inside content",
        'Action: Write File\nAction Input: {"file_name": "n.md",\n'
        '"content": "Action: x\nThought: y"}',
        ("Write File", {"file_name": "n.md", "content": "Action: x\nThought: y"}),
    ),
    (
        "braces, quotes and escapes in strings",
        'Action: Write File\nAction Input: {"file_name": "a", "content": "} \\" { \'"} extra }',
        ("Write File", {"file_name": "a", "content": "} \" { '"}),
    ),
    (
        "single-quoted string with double quotes and escaped apostrophe",
        "Action: Write File\nAction Input: {'file_name': 'a', 'content': 'say \"hi\" it\\'s'}",
        ("Write File", {"file_name": "a", "content": 'say "hi" it\'s'}),
    ),
    (
        "python literals",
        "Action: Final Answer\nAction Input: {'final_answer': True}",
        ("Final Answer", {"final_answer": True}),
    ),
    (
        "python None and trailing commas",
        "Action: Final Answer\nAction Input: {'final_answer': [None, False,],}",
        ("Final Answer", {"final_answer": [None, False]}),
    ),
    # Drift in real Gemini-Pro and CodeLlama-34B replies on MLAgentBench (issue 15).
    ("name on the next line", 'Action:\nList Files\nAction Input:\n{"dir_path": "."}', LIST),
    ("name after blank lines", 'Action: \n\nList Files\n\nAction Input: {"dir_path": "."}', LIST),
    ("name fenced on the next lines", 'Action:\n```\nList Files\n```\n{"dir_path": "."}', LIST),
    ("name in backticks on the next line", 'Action:\n`List Files`\n{"dir_path": "."}', LIST),
    ("name as a bullet on the next line", 'Action:\n- List Files\n{"dir_path": "."}', LIST),
    (
        "a label-like action name on the next line",
        'Action:\nReflection\nAction Input: {"things_to_reflect_on": "why"}',
        ("Reflection", {"things_to_reflect_on": "why"}),
    ),
    ("label twice", 'Action: Action: List Files\nAction Input: {"dir_path": "."}', LIST),
    (
        "input label twice",
        'Action: List Files\nAction Input: Action Input: {"dir_path": "."}',
        LIST,
    ),
    (
        "bare input after its label twice",
        "Action: Read File\nAction Input: Action Input: train.py",
        ("Read File", {"file_name": "train.py"}),
    ),
    (
        "backslash that is no escape: a Windows path",
        'Action: List Files\nAction Input: {"dir_path": "workspaces/logs/3\\CLRS\\train"}',
        ("List Files", {"dir_path": "workspaces/logs/3\\CLRS\\train"}),
    ),
    (
        "Windows folder ending in a backslash",
        'Action: List Files\nAction Input: {"dir_path": "data\\"}',
        ("List Files", {"dir_path": "data\\"}),
    ),
    (
        "valid escapes kept beside a bad one in text",
        'Action: Final Answer\nAction Input: {"final_answer": "a\\nb \\d"}',
        ("Final Answer", {"final_answer": "a\nb \\d"}),
    ),
    (
        "triple-quoted code in an edit instruction",
        'Action: Edit Script (AI)\nAction Input: {"script_name": "t.py",\n'
        '"edit_instruction": """Use:\nprint("hi", {1: 2})\n""", "save_name": "t.py"}',
        (
            "Edit Script (AI)",
            {
                "script_name": "t.py",
                "edit_instruction": 'Use:\nprint("hi", {1: 2})\n',
                "save_name": "t.py",
            },
        ),
    ),
    (
        "unescaped quotes inside a value",
        'Action: Edit Script (AI)\nAction Input: {"script_name": "t.py", "edit_instruction": '
        '"Set "lr" to 0.1", "save_name": "t.py"}',
        (
            "Edit Script (AI)",
            {"script_name": "t.py", "edit_instruction": 'Set "lr" to 0.1', "save_name": "t.py"},
        ),
    ),
    (
        "apostrophe inside a single-quoted value",
        "Action: Final Answer\nAction Input: {'final_answer': 'it's done'}",
        ("Final Answer", {"final_answer": "it's done"}),
    ),
    (
        "multi-line object with trailing commas, fenced",
        'Action: Edit Script (AI)\nAction Input: ```json\n{\n  "script_name": "t.py",\n'
        '  "edit_instruction": "add dropout",\n  "save_name": "t.py",\n}\n```',
        (
            "Edit Script (AI)",
            {"script_name": "t.py", "edit_instruction": "add dropout", "save_name": "t.py"},
        ),
    ),
    (
        "cut off before the closing brace",
        'Action: List Files\nAction Input: {\n  "dir_path": "."\n',
        LIST,
    ),
    (
        "cut off inside the last value",
        'Action: Final Answer\nAction Input: {"final_answer": "Accuracy rose to 0.9',
        ("Final Answer", {"final_answer": "Accuracy rose to 0.9"}),
    ),
    (
        "integer-like strings are kept",
        'Action: Inspect Script Lines\nAction Input: {"script_name": "t.py", '
        '"start_line_number": "1", "end_line_number": 20}',
        (
            "Inspect Script Lines",
            {"script_name": "t.py", "start_line_number": "1", "end_line_number": 20},
        ),
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"), [(t, e) for _, t, e in DRIFT], ids=[name for name, _, _ in DRIFT]
)
def test_accepts_drift(text: str, expected: tuple[str, dict[str, Any]]) -> None:
    reply = parse(text)
    assert (reply.action, reply.action_input) == expected
    assert reply.raw == text


def test_records_sections() -> None:
    reply = parse(CANONICAL)
    assert reply.sections == {
        "Reflection": "The task is new.",
        "Research Plan and Status": "1. Look at the files.\n2. Train a baseline.",
        "Fact Check": "None yet.",
        "Thought": "I should list the files.",
        "Action": "List Files",
        "Action Input": '{"dir_path": "."}',
    }


def test_other_sections_are_optional() -> None:
    reply = parse('Action: List Files\nAction Input: {"dir_path": "."}')
    assert set(reply.sections) == {"Action", "Action Input"}


REJECT: list[tuple[str, str, list[str]]] = [
    ("empty", "", ["empty"]),
    ("whitespace", "  \n\t \n", ["empty"]),
    ("no action line", "Thought: I am thinking.", ['no "Action:" line', "List Files, Read File"]),
    ("empty action", "Action:\nAction Input: {}", ["names no action", "Final Answer"]),
    (
        "unknown action",
        'Action: Fly Away\nAction Input: {"x": 1}',
        ['Unknown action "Fly Away"', ", ".join(ACTIONS)],
    ),
    (
        "input on the action line",
        "Action: Read File train.py",
        ['Unknown action "Read File train.py"', 'on its own line "Action Input: {...}"'],
    ),
    ("missing input", "Action: List Files", ["is missing", '{"dir_path": ...}']),
    ("empty input", "Action: List Files\nAction Input:\n", ["is missing", '{"dir_path": ...}']),
    (
        "input only after observation",
        'Action: List Files\nObservation: x\nAction Input: {"dir_path": "."}',
        ["is missing", '{"dir_path": ...}'],
    ),
    (
        "unclosed object without every key",
        'Action: Write File\nAction Input: {"file_name": "a.py"',
        ["never closed", '{"file_name": ..., "content": ...}'],
    ),
    (
        "invalid json",
        'Action: Read File\nAction Input: {"file_name" "a.py"}',
        ["not valid JSON", "line 1 column", '{"file_name": ...}'],
    ),
    (
        "missing key",
        "Action: Read File\nAction Input: {}",
        ['Action Input for "Read File" is missing key "file_name"; it needs: file_name.'],
    ),
    (
        "missing keys",
        'Action: Write File\nAction Input: {"file_name": "a"}',
        ['is missing key "content"', "it needs: file_name, content"],
    ),
    (
        "wrong key name",
        'Action: List Files\nAction Input: {"path": "."}',
        ['missing key "dir_path"', 'unexpected key "path"', "allowed keys: dir_path"],
    ),
    (
        "list",
        'Action: Read File\nAction Input: ["a.py"]',
        ["must be a JSON object, not a list", '{"file_name": ...}'],
    ),
    (
        "fenced list",
        "Action: Final Answer\nAction Input:\n```json\n[1, 2]\n```",
        ["not a list", '{"final_answer": ...}'],
    ),
    (
        "bare text for a multi-key action",
        "Action: Write File\nAction Input: a.py",
        ["must be a JSON object", '{"file_name": ..., "content": ...}'],
    ),
]


@pytest.mark.parametrize(
    ("text", "fragments"), [(t, f) for _, t, f in REJECT], ids=[name for name, _, _ in REJECT]
)
def test_rejects_with_specific_message(text: str, fragments: list[str]) -> None:
    with pytest.raises(FormatError) as caught:
        parse(text)
    for fragment in fragments:
        assert fragment in str(caught.value)


def fastest_parse_s(text: str) -> float:
    """The quickest of three parses of an unusable `text`, in seconds."""
    times = []
    for _ in range(3):
        started = time.perf_counter()
        with pytest.raises(FormatError):
            parse(text)
        times.append(time.perf_counter() - started)
    return min(times)


HUGE = {
    "open braces": lambda n: "{" * n,
    "quotes": lambda n: '"' * n,
    "spaces": lambda n: " " * n + "x",
    "spaces after Action": lambda n: "Action: " + " " * n + "List Files",
    "open inputs": lambda n: "Action: List Files\nAction Input: " + "{'a" * (n // 3),
    "nested brackets": lambda n: (
        'Action: Final Answer\nAction Input: {"final_answer": '
        + "[" * (n // 5)
        + "]" * (n // 5)
        + "}"
    ),
    "Action lines": lambda n: "Action: List Files\n" * (n // 3),
    "markdown": lambda n: "**" * (n // 2) + "Action" + "_" * (n // 3),
}


@pytest.mark.parametrize("shape", HUGE)
def test_huge_inputs_take_time_in_proportion_to_their_size(shape: str) -> None:
    """Ten times the text may take at most ~30 times as long (linear is 10, quadratic 100):
    a ratio of two timings on the same machine (under 1.5 s always passes), so a busy CPU
    does not fail it."""
    make = HUGE[shape]
    small, large = fastest_parse_s(make(30_000)), fastest_parse_s(make(300_000))
    assert large < 30 * max(small, 0.05), (shape, small, large)


# Property-based tests.

_LABEL_WORDS = re.compile(r"action|observation|reflection|research|fact|thought", re.IGNORECASE)
_chars = st.characters(exclude_categories=("Cs",), exclude_characters="\r")
section_texts = st.text(_chars, max_size=60).filter(lambda s: not _LABEL_WORDS.search(s))
values = st.text(_chars | st.sampled_from("\"'\\{}[],:\n\t`"), max_size=30).filter(
    lambda s: "observation" not in s.lower()
)

LABEL_STYLES = [
    "{}: ",
    "{} : ",
    "**{}:** ",
    "**{}**: ",
    "## {}\n",
    "### {}:\n",
    "- {}: ",
    "{}:\n\n",
]
CASES = [str, str.lower, str.upper, str.title]
NAME_STYLES = ["{}", "`{}`", '"{}"', "**{}**", "{}.", "'{}'"]


def _quote(value: str, single: bool, ascii_only: bool) -> str:
    encoded = json.dumps(value, ensure_ascii=ascii_only)
    if not single:
        return encoded
    body = encoded[1:-1].replace('\\"', '"').replace("'", "\\'")
    return f"'{body}'"


def _raw_controls(encoded: str) -> str:
    """Turn \\n and \\t escapes into raw characters, as small models often write them."""
    raw = {"n": "\n", "t": "\t"}
    return re.sub(r"\\(.)", lambda m: raw.get(m.group(1), m.group(0)), encoded, flags=re.DOTALL)


@st.composite
def mangled_replies(draw: st.DrawFn) -> tuple[str, str, dict[str, str]]:
    action = draw(st.sampled_from(sorted(ACTIONS)))
    inputs = {key: draw(values) for key in ACTIONS[action]}
    single, ascii_only, raw = draw(st.booleans()), draw(st.booleans()), draw(st.booleans())
    items = [
        f"{_quote(k, single, ascii_only)}: {_quote(v, single, ascii_only)}"
        for k, v in inputs.items()
    ]
    body = draw(st.sampled_from([", ", ",\n  "])).join(items)
    obj = "{" + body + draw(st.sampled_from(["", ",", " ,\n"])) + "}"
    obj = _raw_controls(obj) if raw else obj
    fence = draw(st.sampled_from(["{}", "```json\n{}\n```", "```\n{}\n```"]))
    obj = fence.format(obj) + draw(
        st.sampled_from(["", "\nThis should work.", "\nObservation: {}"])
    )

    style, case = draw(st.sampled_from(LABEL_STYLES)), draw(st.sampled_from(CASES))
    gap = draw(st.sampled_from(["\n", "\n\n", "\n \n\n"]))
    parts = [style.format(case(name)) + draw(section_texts) for name in SECTIONS[:4]]
    name = draw(st.sampled_from(NAME_STYLES)).format(draw(st.sampled_from(CASES))(action))
    if draw(st.booleans()):
        parts += [style.format(case("Action")) + name, style.format(case("Action Input")) + obj]
    else:
        parts.append(style.format(case("Action")) + f"{name} {obj}")
    return gap.join(parts), action, inputs


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(mangled_replies())
def test_recoverable_mangling_round_trips(case: tuple[str, str, dict[str, str]]) -> None:
    text, action, inputs = case
    reply = parse(text)
    assert (reply.action, reply.action_input) == (action, inputs)
    assert set(SECTIONS) <= set(reply.sections)


_fragments = st.sampled_from(
    [
        "Action:", "Action Input:", "**Action**", "## Action\n", "Observation:", "Thought:",
        "List Files", "Read File", "Write File", "{", "}", "[", "]", "'", '"', "\\", ",", ":",
        "\n", "```", "```json\n", "True", "None", "dir_path", "file_name", " ", "-", "1e5",
    ]
)  # fmt: skip
junk = st.one_of(
    st.text(max_size=300),
    st.binary(max_size=300).map(lambda b: b.decode("utf-8", "replace")),
    st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
    st.binary(max_size=300).map(lambda b: b.decode("utf-8", "surrogateescape")),
    st.lists(_fragments | st.text(max_size=5), max_size=60).map("".join),
)


@settings(max_examples=500, deadline=None)
@given(junk)
def test_any_text_raises_only_format_error(text: str) -> None:
    try:
        reply = parse(text)
    except FormatError as error:
        assert str(error)
    else:
        assert reply.action in ACTIONS
        assert set(reply.action_input) == set(ACTIONS[reply.action])


def test_an_object_cut_off_after_repeated_pairs_keeps_its_complete_pairs() -> None:
    runaway = '{"script_name": "train.py", ' + '"script_name": "train.py", ' * 300 + '"scri'
    reply = parse_reply(f"Action: Execute Script\nAction Input: {runaway}", ACTIONS)
    assert reply.action_input == {"script_name": "train.py"}


def test_an_object_cut_off_inside_its_last_value_keeps_what_was_written() -> None:
    """A reply cut by the token limit: MLAgentBench's parser read these values as written."""
    cut = 'Action: Write File\nAction Input: {"file_name": "a.py", "content": "import os\n'
    assert parse_reply(cut, ACTIONS).action_input == {"file_name": "a.py", "content": "import os"}
    nested = 'Action: Final Answer\nAction Input: {"final_answer": ["acc 0.9", "loss'
    assert parse_reply(nested, ACTIONS).action_input == {"final_answer": ["acc 0.9", "loss"]}


@pytest.mark.parametrize(
    "cut",
    ['{"file_name": "a.py", "cont', '{"file_name": "a.py", "content":', '{"file_name": "a.py",'],
)
def test_an_object_cut_off_before_a_needed_key_is_still_refused(cut: str) -> None:
    with pytest.raises(FormatError, match="never closed"):
        parse_reply(f"Action: Write File\nAction Input: {cut}", ACTIONS)


def test_keys_the_action_does_not_take_are_dropped_and_named() -> None:
    """A 1.5B model added "parameters" to Execute Script; with one try at the top of the
    cascade, refusing the reply ended the run (traces)."""
    text = (
        'Action: Execute Script\nAction Input: {"script_name": "train.py", '
        '"parameters": {"epochs": 10}}'
    )
    reply = parse(text)
    assert (reply.action, reply.action_input) == ("Execute Script", {"script_name": "train.py"})
    assert reply.ignored_keys == ("parameters",)
    assert reply.ignored_note() == (
        '(Ignored input key "parameters": Execute Script takes script_name.)\n'
    )
    assert parse(text.replace(', "parameters": {"epochs": 10}', "")).ignored_note() == ""

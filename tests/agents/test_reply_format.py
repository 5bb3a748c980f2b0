"""The planner's reply format: a grammar llama.cpp samples under (checked with a real tiny GGUF,
random weights, so only the grammar can make its reply usable), a JSON schema, and JSON replies
read back as text."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from budgetml.agents.parser import PlannerReply, parse_reply
from budgetml.agents.reply_format import as_reply_text, reply_format
from budgetml.agents.step_options import PATH_CHARS, StepOptions, step_options
from budgetml.config import Price
from budgetml.env.actions import ACTIONS
from budgetml.llm.base import Message
from budgetml.llm.local import LocalModel


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "train.py").write_text("print(1)\n")
    (tmp_path / "data").mkdir()
    return tmp_path


def offered(workspace: Path, names: tuple[str, ...]) -> StepOptions:
    actions = [a for a in ACTIONS if a.name in names]
    return step_options(actions, [], workspace, skip_known_results=True)


def signatures(options: StepOptions) -> dict[str, tuple[str, ...]]:
    return {o.name: o.action.input_names for o in options.offers}


def sampled_reply(gguf: Path, options: StepOptions, seed: int) -> PlannerReply:
    """A random-weight model's reply sampled under the step's grammar, parsed."""
    model = LocalModel("local/tiny", gguf, Price(input=0, output=0), seed=seed, n_ctx=4096)
    completion = model.complete(
        [Message("user", "Plan the next step.")],
        agent="planner",
        temperature=1.0,
        max_tokens=1500,
        reply_format=reply_format(options),
    )
    return parse_reply(completion.text, signatures(options))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_random_weight_model_under_the_grammar_gives_a_usable_reply(
    tiny_gguf: Path, workspace: Path, seed: int
) -> None:
    options = offered(workspace, ("List Files", "Execute Script", "Inspect Script Lines"))
    reply = sampled_reply(tiny_gguf, options, seed)
    assert reply.action in options.names
    if reply.action == "Execute Script":
        assert reply.action_input == {"script_name": "train.py"}  # the only script there is
    if reply.action == "List Files":
        assert reply.action_input["dir_path"] in (".", "data")


def test_every_action_of_both_sets_compiles_into_one_grammar(
    tiny_gguf: Path, workspace: Path
) -> None:
    options = step_options(ACTIONS, [], workspace, skip_known_results=False)
    model = LocalModel("local/tiny", tiny_gguf, Price(input=0, output=0), seed=0, n_ctx=4096)
    completion = model.complete(
        [Message("user", "go")],
        agent="planner",
        temperature=1.0,
        max_tokens=12,
        reply_format=reply_format(options),
    )
    assert completion.text.startswith("Reflection: "[: len(completion.text)])


def test_an_edit_is_saved_under_the_name_of_the_script_it_edits(workspace: Path) -> None:
    grammar = reply_format(offered(workspace, ("Execute Script",))).grammar
    assert '"Execute Script\\nAction Input: {"' in grammar
    assert '"\\"train.py\\""' in grammar


def test_the_schema_offers_each_action_with_exactly_its_keys(workspace: Path) -> None:
    options = offered(workspace, ("List Files", "Inspect Script Lines"))
    schema = reply_format(options).json_schema
    steps = schema["properties"]["step"]["anyOf"]
    assert [s["properties"]["action"]["enum"] for s in steps] == [
        ["List Files"],
        ["Inspect Script Lines"],
    ]
    inspect = steps[1]["properties"]["action_input"]
    assert inspect["required"] == ["script_name", "start_line_number", "end_line_number"]
    assert inspect["additionalProperties"] is False
    assert steps[0]["properties"]["action_input"]["properties"]["dir_path"]["enum"] == [
        ".",
        "data",
    ]


def test_a_structured_reply_reads_as_the_six_labels() -> None:
    structured = {
        "reflection": "ran it",
        "research_plan_and_status": "1. run (done)",
        "fact_check": "confirmed",
        "thought": "look at the data",
        "step": {"action": "List Files", "action_input": {"dir_path": "data"}},
    }
    text = as_reply_text(json.dumps(structured))
    reply = parse_reply(text, {"List Files": ("dir_path",)})
    assert (reply.action, reply.action_input) == ("List Files", {"dir_path": "data"})
    assert reply.sections["Thought"] == "look at the data"


def test_a_text_reply_is_left_as_it_is() -> None:
    text = 'Thought: t\nAction: List Files\nAction Input: {"dir_path": "."}'
    assert as_reply_text(text) == text
    assert as_reply_text('{"dir_path": "."}') == '{"dir_path": "."}'  # not a structured reply


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_copy_under_the_grammar_names_one_path_without_spaces(
    tiny_gguf: Path, workspace: Path, seed: int
) -> None:
    options = offered(workspace, ("Copy File",))
    reply = sampled_reply(tiny_gguf, options, seed)
    assert reply.action_input["source"] == "train.py"
    assert re.fullmatch(f"[{PATH_CHARS}]+", reply.action_input["destination"])

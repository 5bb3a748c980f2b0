"""Parse the planner's sectioned reply into an action and its input.

Small models drift from the requested format: bold or heading labels, odd case, fenced or
Python-flavoured JSON, the input on the Action line, a hallucinated Observation. The parser
accepts that drift and rejects everything else with a FormatError whose message tells the
model exactly what to fix, because it is fed back to the model on retry.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SECTIONS: tuple[str, ...] = (
    "Reflection",
    "Research Plan and Status",
    "Fact Check",
    "Thought",
    "Action",
    "Action Input",
)
MAX_CHARS = 200_000  # longer replies are cut here so that parsing stays fast

_LABEL_PATTERNS = {  # "Action Input" before "Action" so the longer label wins
    "Action Input": r"action[\s_-]*input",
    "Action": r"action",
    "Reflection": r"reflection",
    "Research Plan and Status": r"research[\s_-]*plan[\s_-]*(?:and|&)[\s_-]*status",
    "Fact Check": r"fact[\s_-]*check",
    "Thought": r"thought",
    "Observation": r"observation",
}
_LABEL = re.compile(
    "(?:" + "|".join(f"({p})" for p in _LABEL_PATTERNS.values()) + r")\b", re.IGNORECASE
)
_LABEL_NAMES = tuple(_LABEL_PATTERNS)
_DECORATION = " \t-*+>#_"  # bullets, headings and bold markers before a label
_NAME_JUNK = "`'\"*_ \t.:;,[]<>"  # quotes, bold and punctuation around an action name
_INLINE_INPUT = re.compile(r"\{|```json|action[\s_-]*input", re.IGNORECASE)  # ends a name
_WORD = re.compile(r"[\w.+\-/]+")
_JSON_WORD = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null")
_PY_LITERALS = {"True": "true", "False": "false", "None": "null"}
_SURROGATE = re.compile("[\ud800-\udfff]")


IGNORED_NOTE_START = "(Ignored input "
"""How the note on dropped input keys starts; it is one line, before the observation."""


class FormatError(Exception):
    """The reply cannot be used; str(error) is the message fed back to the model."""


@dataclass(frozen=True)
class PlannerReply:
    """A usable reply: the action to run, its input, and the sections found."""

    action: str
    action_input: dict[str, Any]
    sections: dict[str, str]
    raw: str
    ignored_keys: tuple[str, ...] = ()
    """Input keys the action does not take, dropped (a 1.5B model added "parameters" to
    Execute Script; rejecting the reply ended runs whose top model has one try: traces)."""

    def ignored_note(self) -> str:
        """The line an observation starts with when keys were dropped, so the model knows."""
        if not self.ignored_keys:
            return ""
        takes = ", ".join(self.action_input) or "nothing"
        return f"{IGNORED_NOTE_START}{_keys(self.ignored_keys)}: {self.action} takes {takes}.)\n"

    def canonical(self) -> str:
        """The reply as the format asks for it: the sections found, then the action and its
        input as one line of JSON. Earlier replies are shown back this way because a small model
        continues whatever drift it sees in its own history (traces: a key repeated a little
        more at every step until max_tokens, an echoed instruction line)."""
        lines = [f"{name}: {self.sections[name]}" for name in SECTIONS[:4] if name in self.sections]
        lines.append(f"Action: {self.action}")
        lines.append(f"Action Input: {json.dumps(self.action_input, ensure_ascii=False)}")
        return "\n".join(lines)


@dataclass(frozen=True)
class _Label:
    line: int
    name: str
    value: str  # the rest of the label's line


def parse_reply(text: str, actions: Mapping[str, Sequence[str]]) -> PlannerReply:
    """`actions` maps each allowed action name to its input keys (all required)."""
    if not text.strip():
        raise FormatError(
            "Your reply was empty. Answer with the sections " + ", ".join(SECTIONS) + ", "
            'ending with a line "Action: <action name>" and a line "Action Input: <JSON object>".'
        )
    lines = text[:MAX_CHARS].replace("\r\n", "\n").replace("\r", "\n").split("\n")
    labels = [label for i, line in enumerate(lines) if (label := _match_label(i, line))]
    act, inp, end = _locate(labels, len(lines))
    names = ", ".join(actions)
    if act is None:
        raise FormatError(
            f'Your reply has no "Action:" line. End it with a line "Action: <name>" (one of: '
            f'{names}) followed by a line "Action Input: <JSON object>".'
        )
    sections = {
        label.name: _section(lines, labels, k, end)
        for k, label in enumerate(labels[:act])
        if label.name in SECTIONS
    }
    action_text = sections["Action"] = _section(lines, labels, act, end)
    first_line = action_text.partition("\n")[0]
    name_part = _INLINE_INPUT.split(first_line, maxsplit=1)[0]
    action = _resolve_action(name_part, actions)
    keys = list(actions[action])
    if inp is None:
        region = bare = _region(lines, labels[act], end)[len(name_part) :].strip()
    else:
        region = _region(lines, labels[inp], end)
        bare = _section(lines, labels, inp, end)
    sections["Action Input"] = bare
    try:
        given = _without_surrogates(_parse_input(action, keys, region, bare))
    except RecursionError:
        raise FormatError(
            f'Action Input for "{action}" is nested too deeply. Write it as {_shape(keys)}'
        ) from None
    ignored = tuple(k for k in given if k not in keys)
    return PlannerReply(action, {k: given[k] for k in keys}, sections, text, ignored)


def _match_label(index: int, line: str) -> _Label | None:
    """A section label at the start of a line, allowing bullets, headings and bold."""
    core = line.lstrip().lstrip(_DECORATION)
    match = _LABEL.match(core)
    if match is None or match.lastindex is None:
        return None
    name = _LABEL_NAMES[match.lastindex - 1]
    rest = core[match.end() :].lstrip(" \t*_")
    if rest.startswith(":"):
        value = rest[1:].lstrip()  # trailing spaces may sit inside a multi-line JSON string
        return _Label(index, name, value.removeprefix("**").removeprefix("__").lstrip())
    return _Label(index, name, "") if not rest.strip("#*_ \t") else None


def _locate(labels: Sequence[_Label], n_lines: int) -> tuple[int | None, int | None, int]:
    """The Action label, its Action Input label, and the line where the reply ends.

    The first Action Input wins (later labels may sit inside its content), paired with the
    last Action before it; a hallucinated Observation ends the reply.
    """
    act: int | None = None
    inp: int | None = None
    for k, label in enumerate(labels):
        if label.name == "Action" and inp is None:
            act = k
        elif label.name == "Action Input" and act is not None and inp is None:
            inp = k
        elif label.name == "Observation" and act is not None:
            return act, inp, label.line
    return act, inp, n_lines


def _section(lines: Sequence[str], labels: Sequence[_Label], k: int, end: int) -> str:
    """The text of label k, up to the next label or the end of the reply."""
    label = labels[k]
    stop = min(labels[k + 1].line if k + 1 < len(labels) else len(lines), end)
    return "\n".join([label.value, *lines[label.line + 1 : stop]]).strip()


def _region(lines: Sequence[str], label: _Label, end: int) -> str:
    """The text from a label to the end of the reply, ignoring later labels."""
    return "\n".join([label.value, *lines[label.line + 1 : end]]).strip()


def _normalize(name: str) -> str:
    return re.sub(r"[\s_-]+", " ", name.strip(_NAME_JUNK).lower()).strip()


def _resolve_action(name_part: str, actions: Mapping[str, Sequence[str]]) -> str:
    """The canonical action name, tolerating case, quotes, bold and a trailing period."""
    names = ", ".join(actions)
    wanted = _normalize(name_part)
    if not wanted:
        raise FormatError(f'The "Action:" line names no action. Write one of: {names}.')
    for action in actions:
        if _normalize(action) == wanted:
            return action
    hint = "exactly one of these names"
    if any(wanted.startswith(_normalize(action) + " ") for action in actions):
        hint += ', with its input on its own line "Action Input: {...}"'
    raise FormatError(
        f'Unknown action "{_clip(name_part.strip())}". Valid actions are: {names}. '
        f'Write "Action:" followed by {hint}.'
    )


def _parse_input(action: str, keys: Sequence[str], region: str, bare: str) -> dict[str, Any]:
    """The input object; for a one-key action a bare value is that key's value."""
    opening = _unfence(region)
    if opening.startswith("["):
        raise _not_object(action, keys, "a list")
    start = region.find("{")
    if start >= 0:
        try:
            return _check_keys(action, keys, _load_object(action, keys, region[start:]))
        except FormatError:
            if opening.startswith("{") or len(keys) != 1:
                raise
    value = _bare_value(_unfence(bare))
    if not value:
        raise FormatError(
            f'Action Input for "{action}" is missing. After the Action line add a line: '
            f"Action Input: {_shape(keys)}"
        )
    if len(keys) != 1:
        raise _not_object(action, keys, 'text without a "{"')
    return {keys[0]: value}


def _without_surrogates(value: Any) -> Any:
    """A JSON escape such as "\\ud800" decodes to a lone surrogate, which no file, prompt or
    terminal can take: each becomes U+FFFD."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_without_surrogates(k): _without_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_surrogates(item) for item in value]
    return value


def _not_object(action: str, keys: Sequence[str], kind: str) -> FormatError:
    return FormatError(
        f'Action Input for "{action}" must be a JSON object, not {kind}. Write it as {_shape(keys)}'
    )


def _load_object(action: str, keys: Sequence[str], text: str) -> dict[str, Any]:
    """Parse the first balanced {...} in text, repairing Python-style JSON if needed."""
    end = _object_end(text)
    if end is None:
        salvaged = _close_cut_object(text)
        if salvaged is not None and set(keys) <= set(salvaged):
            return salvaged
        raise FormatError(
            f'Action Input for "{action}" is not valid JSON: its "{{" is never closed. '
            f"Write it as {_shape(keys)}"
        )
    try:
        value = json.loads(text[:end], strict=False)
    except (ValueError, RecursionError) as error:
        try:
            value = json.loads(_repair(text[:end]), strict=False)
        except (ValueError, RecursionError):
            raise FormatError(
                f'Action Input for "{action}" is not valid JSON ({_clip(str(error))}). '
                f"Write it as a JSON object like {_shape(keys)}"
            ) from None
    return value  # a balanced "{...}" that parses is always a dict


def _close_cut_object(text: str) -> dict[str, Any] | None:
    """The complete pairs of an object cut off mid-way, if they parse.

    Small models sometimes repeat a pair until the token limit ({"script_name": "train.py",
    "script_name": "train.py", ...}); the pairs before the cut are what they meant. A pair cut
    in the middle is dropped; an object missing a key is left to the "never closed" message.
    """
    depth = 0
    commas: list[int] = []
    for i, ch in _unquoted(text):
        if ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
        elif ch == "," and depth == 1:
            commas.append(i)
    for cut in reversed(commas[-3:]):
        for candidate in (text[:cut] + "}", _repair(text[:cut] + "}")):
            try:
                value = json.loads(candidate, strict=False)
            except (ValueError, RecursionError):
                continue
            if isinstance(value, dict):
                return value
    return None


def _object_end(text: str) -> int | None:
    """The end of the balanced object opening text, skipping quoted strings."""
    depth = 0
    for i, ch in _unquoted(text):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i + 1
    return None


def _unquoted(text: str) -> Iterator[tuple[int, str]]:
    """Each character outside quoted strings (single or double, with escapes), and its index."""
    quote = ""
    escaped = False
    for i, ch in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        else:
            yield i, ch


def _repair(text: str) -> str:
    """Rewrite single quotes, trailing commas, Python literals and bare words as JSON."""
    out: list[str] = []
    comma = -1  # index in out of the last comma, while only whitespace follows it
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            out.append(ch)
            i += 1
            continue
        if ch in "}]" and comma >= 0:
            out[comma] = ""
        comma = len(out) if ch == "," else -1
        if ch in "\"'":
            i = _copy_string(text, i, out)
        elif word := _WORD.match(text, i):
            token = word.group()
            json_word = _JSON_WORD.fullmatch(token)
            out.append(_PY_LITERALS.get(token) or (token if json_word else json.dumps(token)))
            i = word.end()
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _copy_string(text: str, start: int, out: list[str]) -> int:
    """Copy the string opening at start as a double-quoted one; return the index after it."""
    quote = text[start]
    out.append('"')
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            out.append("'" if text[i + 1] == "'" else text[i : i + 2])
            i += 2
            continue
        if ch == quote:
            out.append('"')
            return i + 1
        out.append('\\"' if ch == '"' else ch)
        i += 1
    return i


def _unfence(text: str) -> str:
    """Drop a surrounding code fence (and its language tag) from a bare value."""
    if text.startswith("```"):
        head, newline, body = text[3:].partition("\n")
        if newline and (not head.strip() or head.strip().isalpha()):
            text = body
    return text.strip().strip("`").strip()


def _bare_value(text: str) -> str:
    """A bare value as the model meant it: a JSON string decoded, else the unquoted text."""
    try:
        value = json.loads(text, strict=False)
    except (ValueError, RecursionError):
        value = None
    if isinstance(value, str):
        return value
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def _check_keys(action: str, keys: Sequence[str], value: dict[str, Any]) -> dict[str, Any]:
    """The object if it has every key the action needs (extra keys are dropped later)."""
    missing = [k for k in keys if k not in value]
    extra = [k for k in value if k not in keys]
    if not missing:
        return value
    problems = [f"is missing {_keys(missing)}"] if missing else []
    problems += [f"has unexpected {_keys(extra)}"] if extra else []
    allowed = ", ".join(keys)
    hint = f"allowed keys: {allowed}" if extra else f"it needs: {allowed}"
    raise FormatError(f'Action Input for "{action}" {" and ".join(problems)}; {hint}.')


def _keys(names: Sequence[str]) -> str:
    """'key "a"' or 'keys "a", "b"' (at most ten, each clipped)."""
    quoted = ", ".join(f'"{_clip(n)}"' for n in names[:10])
    return ("key " if len(names) == 1 else "keys ") + quoted


def _shape(keys: Sequence[str]) -> str:
    return "{" + ", ".join(f'"{k}": ...' for k in keys) + "}"


def _clip(text: str, limit: int = 80) -> str:
    """Keep echoed model text short, so the feedback stays readable."""
    return text if len(text) <= limit else text[: limit - 3] + "..."

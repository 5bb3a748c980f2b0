"""Parse the planner's sectioned reply into an action and its input.

Models drift from the requested format: bold or heading labels, odd case, the name on the line
after "Action:" or the label twice, fenced or Python-flavoured JSON (single or triple quotes,
trailing commas, Windows paths with bare backslashes, unescaped quotes), the input on the Action
line or cut off by the token limit, a hallucinated Observation. The parser accepts that drift
(whatever MLAgentBench's own parser read, and more) and rejects everything else with a
FormatError whose message tells the model exactly what to fix, because it is fed back to the
model on retry.
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
_NAME_JUNK = "`'\"*_ \t.:;,[]<>-#"  # quotes, bold, bullets and punctuation around a name
_INLINE_INPUT = re.compile(r"\{|```json|action[\s_-]*input", re.IGNORECASE)  # ends a name
_FENCE_LINE = re.compile(r"\s*(?:```[\w-]*)?\s*")  # blank, or a fence around a name
_LABEL_AGAIN = {  # "Action: Action: Execute Script" (Gemini-Pro, CodeLlama)
    "Action": re.compile(r"(?:[\s*_`]*action[\s*_`]*:)+", re.IGNORECASE),
    "Action Input": re.compile(r"(?:[\s*_`]*action[\s_-]*input[\s*_`]*:)+", re.IGNORECASE),
}
_JSON_ESCAPES = frozenset('"\\/bfnrtu')
_HEX4 = re.compile(r"[0-9a-fA-F]{4}")
_AFTER_STRING = re.compile(r"\s*(?:[,:}\]]|$)")  # what may follow a string's closing quote
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
    bare: bool = False  # a label alone on its line, without a colon ("## Action")


def parse_reply(text: str, actions: Mapping[str, Sequence[str]]) -> PlannerReply:
    """`actions` maps each allowed action name to its input keys (all required)."""
    if not text.strip():
        raise FormatError(
            "Your reply was empty. Answer with the sections " + ", ".join(SECTIONS) + ", "
            'ending with a line "Action: <action name>" and a line "Action Input: <JSON object>".'
        )
    lines = text[:MAX_CHARS].replace("\r\n", "\n").replace("\r", "\n").split("\n")
    labels = _find_labels(lines)
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
    if inp is None:
        name_part, after = _split_name(_region(lines, labels[act], end))
        sections["Action"] = name_part.strip()
        region = bare = after.strip()
    else:
        sections["Action"] = _section(lines, labels, act, end)
        name_part = _split_name(sections["Action"])[0]
        region = _region(lines, labels[inp], end)
        bare = _section(lines, labels, inp, end)
    action = _resolve_action(name_part, actions)
    keys = list(actions[action])
    bare = _strip_label_again("Action Input", bare)
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
    return _Label(index, name, "", bare=True) if not rest.strip("#*_ \t") else None


def _find_labels(lines: Sequence[str]) -> list[_Label]:
    """Every label, except a bare one that is the name of an empty "Action:" label's action
    ("Action:" then "Reflection" on the next line: Reflection is an action too)."""
    labels: list[_Label] = []
    for i, line in enumerate(lines):
        label = _match_label(i, line)
        if label is None:
            continue
        last = labels[-1] if labels else None
        if (
            label.bare
            and last is not None
            and last.name == "Action"
            and not last.value
            and all(_FENCE_LINE.fullmatch(gap) for gap in lines[last.line + 1 : i])
        ):
            continue
        labels.append(label)
    return labels


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


def _split_name(text: str) -> tuple[str, str]:
    """The action name in the text after "Action:", and the text after it. The name is on the
    first line with a word (models put it on the next line, in a fence, or after the label
    again) and ends where an inline input starts."""
    offset = 0
    for line in text.split("\n"):
        if not _normalize(line) or _FENCE_LINE.fullmatch(line):
            offset += len(line) + 1
            continue
        name = _INLINE_INPUT.split(line, maxsplit=1)[0]
        end = offset + len(name)
        return _strip_label_again("Action", name), text[end:]
    return "", text


def _strip_label_again(name: str, text: str) -> str:
    """The text without its label repeated at the start ("Action: Action: List Files")."""
    match = _LABEL_AGAIN[name].match(text)
    return text[match.end() :] if match else text


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
    """What an object cut off mid-way said, if it parses.

    A reply cut by the token limit ends inside its input: the object closed where it stops
    (the last string too) keeps every value as written, as MLAgentBench's parser read it. Small
    models also repeat a pair until the limit ({"script_name": "train.py", "script_name": ...,
    "scri); then the complete pairs before the cut are what they meant. An object missing a
    key is left to the "never closed" message.
    """
    depth = 0
    commas: list[int] = []
    opened: list[str] = []
    for i, ch in _unquoted(text):
        if ch in "{[":
            depth += 1
            opened.append("}" if ch == "{" else "]")
        elif ch in "}]":
            depth -= 1
            if opened:
                opened.pop()
        elif ch == "," and depth == 1:
            commas.append(i)
    quote = _open_quote(text)
    closed = text.rstrip() if not quote else text
    candidates = [closed + quote + "".join(reversed(opened))]
    candidates += [text[:cut] + "}" for cut in reversed(commas[-3:])]
    for candidate in candidates:
        for attempt in (candidate, _repair(candidate)):
            try:
                value = json.loads(attempt, strict=False)
            except (ValueError, RecursionError):
                continue
            if isinstance(value, dict):
                return value
    return None


def _open_quote(text: str) -> str:
    """The quote that closes a string still open at the end of text, or ""."""
    i = 0
    while i < len(text):
        if text[i] in "\"'":
            _, stop, after = _scan_string(text, i)
            if stop == after:  # never closed
                return text[i : i + 3] if text.startswith(text[i] * 3, i) else text[i]
            i = after
        else:
            i += 1
    return ""


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
    """Each character outside quoted strings, and its index."""
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in "\"'":
            i = _scan_string(text, i)[2]
        else:
            yield i, ch
            i += 1


def _scan_string(text: str, start: int) -> tuple[int, int, int]:
    """Where the body of the string opening at start begins and ends, and the index after it.

    Triple quotes (Python, for code in an edit instruction) end at the same three quotes. A
    single quote ends only where a value may end (before a comma, colon, bracket, brace or the
    end, after any space), so an unescaped quote inside a value ("set "lr" to 0.1", 'it's') is
    part of it, as it is for the model. A string never closed ends at the end of text, or
    after a backslash before a quote where a value may end (a Windows folder: "data\\").
    """
    quote = text[start]
    if text.startswith(quote * 3, start):
        stop = text.find(quote * 3, start + 3)
        return (start + 3, len(text), len(text)) if stop < 0 else (start + 3, stop, stop + 3)
    i = start + 1
    backslash_end = -1  # a quote after a backslash where a value may end: "folder\\"
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            if backslash_end < 0 and text[i + 1 : i + 2] == quote:
                backslash_end = i + 1 if _AFTER_STRING.match(text, i + 2) else -1
            i += 2
        elif ch == quote and _AFTER_STRING.match(text, i + 1):
            return start + 1, i, i + 1
        else:
            i += 1
    if backslash_end >= 0:  # never closed otherwise: the backslash ends a Windows path
        return start + 1, backslash_end, backslash_end + 1
    return start + 1, len(text), len(text)


def _repair(text: str) -> str:
    """Rewrite single or triple quotes, bad escapes, trailing commas, Python literals and bare
    words as JSON."""
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
            body_start, body_end, i = _scan_string(text, i)
            out.append(_as_json_string(text[body_start:body_end]))
        elif word := _WORD.match(text, i):
            token = word.group()
            json_word = _JSON_WORD.fullmatch(token)
            out.append(_PY_LITERALS.get(token) or (token if json_word else json.dumps(token)))
            i = word.end()
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _as_json_string(body: str) -> str:
    """A string body as a double-quoted JSON string: its valid escapes kept, an escaped
    apostrophe unescaped, and any other backslash literal. In a word with a backslash that is
    no escape (a Windows path: "3\\CLRS\\train.py") every backslash is literal, as it is
    for MLAgentBench's parser."""
    path = not any(c.isspace() for c in body) and _has_bad_escape(body)
    out = ['"']
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body) and not path:
            nxt = body[i + 1]
            if nxt == "'":
                out.append("'")
            elif _valid_escape(body, i):
                out.append(body[i : i + 2])
            else:
                out.append("\\\\" + nxt)
            i += 2
            continue
        out.append('\\"' if ch == '"' else "\\\\" if ch == "\\" else ch)
        i += 1
    out.append('"')
    return "".join(out)


def _has_bad_escape(body: str) -> bool:
    """Whether a backslash in body starts neither a JSON escape nor an escaped apostrophe."""
    i = body.find("\\")
    while i >= 0:
        if i + 1 < len(body) and not _valid_escape(body, i) and body[i + 1] != "'":
            return True
        i = body.find("\\", i + 2)
    return False


def _valid_escape(body: str, i: int) -> bool:
    """Whether the backslash at i starts a JSON escape."""
    nxt = body[i + 1 : i + 2]
    return nxt in _JSON_ESCAPES and nxt != "" and (nxt != "u" or bool(_HEX4.match(body, i + 2)))


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

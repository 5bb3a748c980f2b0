"""Keeping long text readable: the head and the tail, and a note of what was cut."""


def truncate_middle(text: str, limit: int) -> str:
    """At most about `limit` characters of `text`, keeping its start and end."""
    if len(text) <= limit:
        return text
    head = limit * 2 // 3
    tail = limit - head
    cut = len(text) - head - tail
    return f"{text[:head]}\n[... {cut:,} characters cut from the middle ...]\n{text[-tail:]}"

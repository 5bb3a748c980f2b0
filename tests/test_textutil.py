"""Long text cut in the middle, and telling a cut text from the whole it came from."""

from budgetml.textutil import copied_passage, shows, truncate_middle

TEXT = "\n".join(f"{n}: line {n}" for n in range(1, 400))


def test_a_text_shows_itself_whole_or_cut_at_any_limit() -> None:
    assert shows(TEXT, TEXT)
    for limit in (50, 400, 2_000):
        cut = truncate_middle(TEXT, limit)
        assert cut != TEXT and shows(cut, TEXT)


def test_a_changed_text_is_not_what_was_shown() -> None:
    changed = TEXT.replace("200: line 200", "200: line 201")
    assert not shows(TEXT, changed)
    assert not shows(truncate_middle(TEXT, 400), TEXT + "\n400: line 400")
    assert not shows(truncate_middle(TEXT, 400), changed.replace("1: line 1\n", "1: line 0\n", 1))


def test_a_copied_passage_is_found_whatever_the_spacing() -> None:
    source = "Improve the score: change the script,\n giving a precise instruction (which lines)"
    text = "Please giving a  precise instruction (which lines) now"
    assert copied_passage(text, source, 20) == " giving a precise in"
    assert copied_passage("Add 'sex' to the features and use a random forest", source, 20) == ""
    assert copied_passage("short", "short", 20) == ""

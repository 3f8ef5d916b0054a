from retrieval.segment import split_sentences


def spans(text):
    return [s.text for s in split_sentences(text)]


def test_offsets_are_exact_string_indices():
    text = "Er geht. Sie bleibt!Ende\n\nNeuer Absatz?Ja."
    for s in split_sentences(text):
        assert text[s.start:s.end] == s.text


def test_glued_sentences_and_question_marks_split():
    assert spans("Что он хочет?После этого он ушёл.") == ["Что он хочет?", "После этого он ушёл."]


def test_initials_do_not_end_a_sentence():
    assert spans("Zunächst trifft er K. - einen Wissenschaftler. K. zeigt ihm einen Finger.") == [
        "Zunächst trifft er K. - einen Wissenschaftler.", "K. zeigt ihm einen Finger."]
    assert spans("P.S. Новое лицо. Новый мир.") == ["P.S. Новое лицо.", "Новый мир."]


def test_lowercase_after_dot_is_not_a_boundary():
    assert spans("Dies überzeugte K. davon, dass es so ist.") == ["Dies überzeugte K. davon, dass es so ist."]


def test_stray_closing_quote_joins_previous_sentence():
    text = "„Ich kann nie wieder schreiben. Schreiben ist nötig. “"
    assert spans(text)[-1] == "Schreiben ist nötig. “"


def test_empty_and_whitespace():
    assert split_sentences("") == []
    assert split_sentences("   \n  ") == []

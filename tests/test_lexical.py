import pytest

from retrieval.lexical import BM25, detect_language, tokenize


@pytest.mark.parametrize("text,lang", [
    ("What did K. show you?", "en"),
    ("Why did you buy an air pistol?", "en"),
    ("Почему вы купили пневматический пистолет?", "ru"),
    ("Was hast du im Fenster deines Hauses gesehen?", "de"),
    ("Wer ist K.?", "de"),
    ("Warum trägst du einen Bart?", "de"),
    ("Who is K.?", "en"),
])
def test_detect_language(text, lang):
    assert detect_language(text) == lang


def test_tokenize_stems_and_drops_stop_words():
    assert tokenize("The masks were changing", "en") == ["mask", "chang"]
    assert tokenize("künstlichen Finger", "de") == tokenize("künstlicher Finger", "de")
    assert tokenize("пистолета", "ru") == tokenize("пистолет", "ru")


def test_bm25_ranks_the_matching_document_first_and_scores_zero_for_no_match():
    docs = [tokenize(t, "en") for t in ["a mask of antimony", "the wife at the bus stop", "an air pistol"]]
    bm = BM25(docs)
    scores = bm.scores(tokenize("where did he meet his wife? bus", "en"))
    assert scores.argmax() == 1
    assert bm.scores(tokenize("zebra", "en")).max() == 0

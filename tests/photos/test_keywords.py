"""Keywords from the n-best captions: plurals folded, stop words dropped, better captions vote more."""

from captioner.photos.keywords import keywords, singular


def test_singular():
    words = ["dogs", "puppies", "boxes", "grass", "bus", "children", "dress", "men"]
    assert [singular(w) for w in words] == ["dog", "puppy", "box", "grass", "bus", "child", "dress", "man"]


def test_keywords_rank_by_caption_probability():
    tags = keywords(
        [
            ("two dogs are running on the grass", -1.0),
            ("a dog runs through the grass", -1.5),
            ("a brown dog in a field", -4.0),
        ]
    )
    assert tags[:2] == ["dog", "grass"]
    assert "the" not in tags and "two" not in tags and "field" in tags
    assert keywords([], 5) == [] and len(keywords([("a b c d e f g h i j k", 0.0)], 3)) <= 3

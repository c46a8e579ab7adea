"""The plain-text reports a learner reads in a notebook: narrow enough for JupyterLab, nothing lost."""

from sdgan_course.exercises.checks import passed
from sdgan_course.metrics.report import METRIC_NOTES, format_table


def test_format_table_keeps_meanings_under_a_narrow_table():
    results = {name: {"fid": 12.5, "recall": 0.61, "classes_covered": 10, "inception_score": None}
               for name in ("real test", "random", "best-of-4", "best-of-16", "DRS (median)", "DRS (90th pct)")}
    keys = ["fid", "recall", "classes_covered", "inception_score"]
    text = format_table(results, keys=keys)
    table, key = text.split("\n\n")
    lines = table.splitlines()
    assert max(len(line) for line in text.splitlines()) <= 120
    assert lines[0].split() == ["metric", "real", "test", "random", "best-of-4", "best-of-16", "DRS", "(median)",
                                "DRS", "(90th", "pct)"]
    assert lines[1].split() == ["fid"] + ["12.5000"] * 6
    assert lines[3].split() == ["classes_covered"] + ["10"] * 6
    assert lines[4].split() == ["inception_score"] + ["-"] * 6  # missing values are shown, not dropped
    assert [line.split()[0] for line in key.splitlines()] == keys
    assert key.splitlines()[0].endswith(METRIC_NOTES["fid"])
    assert "\n\n" not in format_table(results, keys=keys, meanings=False)


def test_passed_messages_wrap_at_word_boundaries(capsys):
    words = [f"word{i:02d}" for i in range(60)]
    passed(" ".join(words))
    out = capsys.readouterr().out
    assert out.startswith("Correct. word00")
    assert max(len(line) for line in out.splitlines()) <= 110
    assert out.split() == ["Correct."] + words

"""Pareto dominance: the definition on cases worked by hand, the senses, ties, and bad input."""

import pytest

from sdgan_course.metrics.tradeoff import dominates, pareto_front

TRILEMMA = {"fid": "min", "recall": "max", "seconds_per_image": "min"}


def test_dominates_needs_every_axis_at_least_as_good_and_one_better():
    assert dominates([1.0, 5.0], [2.0, 5.0], ["min", "max"])  # better FID, same recall
    assert not dominates([1.0, 4.0], [2.0, 5.0], ["min", "max"])  # better FID, worse recall: a trade-off
    assert not dominates([2.0, 5.0], [2.0, 5.0], ["min", "max"])  # equal: not strictly better anywhere
    assert dominates([2.0, 5.0], [2.0, 4.0], ["min", "max"])
    assert not dominates([2.0, 5.0], [2.0, 4.0], ["min", "min"])  # the sense decides what "better" is


def test_pareto_front_of_a_trilemma_by_hand():
    rows = [
        dict(model="gan", fid=30.0, recall=0.4, seconds_per_image=0.001),  # fastest: on the front
        dict(model="diffusion", fid=22.0, recall=0.6, seconds_per_image=0.13),  # best FID and recall: on the front
        dict(model="slow and worse", fid=40.0, recall=0.3, seconds_per_image=0.2),  # beaten by both
        dict(model="gan twin", fid=30.0, recall=0.4, seconds_per_image=0.001),  # a tie does not dominate
        dict(model="slower gan", fid=30.0, recall=0.4, seconds_per_image=0.002),  # beaten by the gan on speed only
    ]
    assert pareto_front(rows, TRILEMMA) == [True, True, False, True, False]
    assert pareto_front(rows, {"fid": "min"}) == [False, True, False, False, False]
    assert pareto_front(rows, {"fid": "max"}) == [False, False, True, False, False]
    assert pareto_front(rows[:1], TRILEMMA) == [True]


def test_bad_input_says_what_is_wrong():
    with pytest.raises(ValueError, match="no finite 'recall'"):
        pareto_front([dict(model="x", fid=1.0, recall=None, seconds_per_image=1.0)], TRILEMMA)
    with pytest.raises(ValueError, match="no finite 'fid'"):
        pareto_front([dict(model="x", fid=float("nan"), recall=0.1, seconds_per_image=1.0)], TRILEMMA)
    with pytest.raises(ValueError, match="Unknown sense"):
        dominates([1.0], [2.0], ["lower"])
    with pytest.raises(ValueError, match="one sense per axis"):
        dominates([1.0, 2.0], [2.0], ["min"])
    with pytest.raises(ValueError, match="at least one objective"):
        pareto_front([dict(fid=1.0)], {})

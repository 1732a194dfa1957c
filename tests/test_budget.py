"""Budget strings: fractions, percentages, amounts and byte units."""

import pytest

from moccasin.budget import resolve_budget
from moccasin.errors import InputError


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("0.8", (800, 0.8)),
        ("80%", (800, 0.8)),
        (0.8, (800, 0.8)),
        ("1", (1000, 1.0)),
        ("600", (600, 0.6)),
        (700, (700, 0.7)),
        (1, (1, 0.001)),
        ("1KiB", (1024, 1.024)),
        ("1.5KB", (1500, 1.5)),
        ("2 B", (2, 0.002)),
    ],
)
def test_budget_forms(spec, expected):
    amount, fraction = resolve_budget(spec, 1000)
    assert amount == expected[0]
    assert fraction == pytest.approx(expected[1])


def test_fraction_rounds_up():
    assert resolve_budget(0.9, 46319) == (41688, 0.9)  # ceil(41687.1)


@pytest.mark.parametrize("spec", ["", "abc", "-1", "0", "12.5", "3 parsecs", "nan", float("inf"), True])
def test_bad_budgets(spec):
    with pytest.raises(InputError):
        resolve_budget(spec, 1000)

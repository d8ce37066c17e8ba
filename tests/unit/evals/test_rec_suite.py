from datetime import date, datetime

import pytest

from agents.recommender.evaluation import Split
from agents.recommender.schemas import Interaction
from evals.suites.rec import reach


def _buy(customer: str, item: str, day: int) -> Interaction:
    return Interaction(customer, item, datetime(2026, 6, day, 10), 1.0)


def test_reach_counts_each_source_by_customer() -> None:
    train = [
        # The bestseller (three buyers, the top-1 item); b never bought it.
        *(_buy(c, "hot", 1) for c in ("a", "c", "d")),
        _buy("a", "milk", 2),
        _buy("b", "bottle", 2),
        _buy("b", "teat", 3),  # co-bought with bottle: bought in the next basket
        _buy("c", "bottle", 2),
    ]
    split = Split(
        train=train,
        test={
            "a": frozenset({"milk"}),  # a repeat
            "b": frozenset({"hot"}),  # the bestseller, new to b
            "c": frozenset({"teat"}),  # bought with bottle by someone else
            "d": frozenset({"rare"}),  # no source predicts it
        },
        asked_on=dict.fromkeys("abcd", date(2026, 6, 10)),
    )
    shares = reach(split, top_n=1)
    assert shares == pytest.approx(
        {"popularity": 0.25, "repeat": 0.25, "repeat+top": 0.5, "repeat+top+co_bought": 0.75}
    )

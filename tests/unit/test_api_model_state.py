"""ModelState.no_champion: derived from the registry's last answer and what is served."""

from datetime import UTC, datetime

from ecomm.api.model_store import ModelState, ServedModel
from ecomm.ml import registry

SERVED = ServedModel("churn_model", "1", "run", object(), {}, {}, datetime(2026, 1, 1, tzinfo=UTC))


def test_no_champion_only_when_the_registry_answered_without_one_and_nothing_is_served():
    assert not ModelState().no_champion  # the registry has not answered yet
    assert ModelState(aliases={}).no_champion
    assert ModelState(aliases={"challenger": "2"}).no_champion
    assert not ModelState(aliases={registry.CHAMPION: "1"}).no_champion  # to load, or failed to
    assert not ModelState(served=SERVED, aliases={}).no_champion  # the alias gone: it keeps serving

"""Segmentation stages on synthetic data: k selection on blobs, bootstrap stability, names and
profiles derived from centroids, ARI against a labelling and the RFM-quintile baseline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs
from threadpoolctl import threadpool_limits

from ecomm.ml.segment import evaluate as ev
from ecomm.ml.segment import kselect, naming
from ecomm.ml.segment.train import SegmentConfig, default_as_of, fit_segments

FAST_KS = (3, 4, 5, 6)


def blobs(n: int = 400, centers: int = 4, std: float = 0.5, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    return make_blobs(
        n_samples=n, centers=centers, n_features=5, cluster_std=std, center_box=(-10, 10), random_state=seed
    )


# ------------------------------------------------------------------------------------- choosing k
def test_four_well_separated_blobs_give_k_4_with_perfect_stability():
    x, truth = blobs()
    selection = kselect.select_k(x, range(3, 11), n_boot=3, seed=0)
    assert selection.k == 4
    table = selection.table
    assert list(table.index) == list(range(3, 11))
    assert table.loc[4, "mean_rank"] == 1.0  # best on silhouette, Calinski-Harabasz and Davies-Bouldin
    assert table.loc[4, "stability"] == pytest.approx(1.0)
    assert ev.ari_against(pd.Series(selection.model.labels_), pd.Series(truth)) == pytest.approx(1.0)


def test_choose_k_ranks_only_the_stable_ks_then_prefers_stability_then_the_smaller_k():
    table = pd.DataFrame(
        {
            "silhouette": [0.9, 0.5, 0.5],
            "calinski_harabasz": [900.0, 500.0, 500.0],
            "davies_bouldin": [0.1, 0.5, 0.5],
            "stability": [0.5, 0.9, 0.95],
        },
        index=pd.Index([3, 4, 5], name="k"),
    )
    ranked = kselect.rank_table(
        [kselect.KScore(k, *row, inertia=0.0) for k, row in zip(table.index, table.to_numpy(), strict=True)]
    )
    assert ranked["mean_rank"].tolist() == [1.0, 2.0, 2.0]
    assert kselect.choose_k(ranked, 0.8) == 5  # 3 is unstable; 4 and 5 tie on rank, 5 is more stable
    assert kselect.choose_k(ranked, 0.99) == 3  # none is stable: the indices alone decide
    assert kselect.choose_k(ranked.assign(stability=0.9), 0.8) == 3


def test_stability_is_high_on_blobs_and_low_on_structureless_noise():
    x, _ = blobs()
    noise = np.random.default_rng(0).uniform(size=(400, 5))
    with threadpool_limits(1):  # as select_k runs them (see kselect)
        labels = kselect.fit_kmeans(x, 4, seed=0).labels_
        assert kselect.bootstrap_stability(x, labels, 4, n_boot=4, seed=0) == pytest.approx(1.0)
        noise_labels = kselect.fit_kmeans(noise, 8, seed=0).labels_
        assert kselect.bootstrap_stability(noise, noise_labels, 8, n_boot=4, seed=0) < 0.8
    assert kselect.restart_stability(x, labels, 4, n_restarts=3, seed=0) == pytest.approx(1.0)


def test_too_few_rows_for_any_k_is_an_error():
    with pytest.raises(ValueError, match="3 rows: too few to cluster into 3 or more segments"):
        kselect.select_k(np.zeros((3, 2)), (3, 4), n_boot=1)


# ------------------------------------------------------------------------------- names, profiles
def shop_frame(seed: int = 0) -> pd.DataFrame:
    """Three planted behaviours on named features: frequent buyers, discount hunters, browsers."""
    rng = np.random.default_rng(seed)
    n = 150
    groups = np.repeat([0, 1, 2], n)
    base = {
        "orders_per_30d": [3.0, 0.5, 0.05],
        "discount_share": [0.02, 0.4, 0.02],
        "views_per_session": [4.0, 4.0, 20.0],
        "return_rate": [0.1, 0.1, 0.1],
    }
    frame = pd.DataFrame(
        {f: np.abs(np.array(v)[groups] * (1 + 0.05 * rng.standard_normal(3 * n))) for f, v in base.items()}
    )
    frame.insert(0, "customer_id", np.arange(1, 3 * n + 1))
    frame.insert(1, "as_of_date", pd.Timestamp("2025-03-01").date())
    return frame.assign(group=groups)


def test_names_and_profiles_come_from_the_centroids_and_are_deterministic():
    frame = shop_frame()
    config = SegmentConfig(ks=FAST_KS, n_boot=2, seed=1)
    fitted = fit_segments(frame.drop(columns="group"), config)
    again = fit_segments(frame.drop(columns="group"), SegmentConfig(ks=FAST_KS, n_boot=2, seed=7))
    assert fitted.selection.k == 3
    assert [s.to_dict() for s in fitted.segments] == [s.to_dict() for s in again.segments]
    names = sorted(s.name for s in fitted.segments)
    assert names == [
        "high discount share, low views per session",
        "high orders per 30d, low views per session",
        "high views per session, low orders per 30d",
    ]
    assert ev.ari_against(pd.Series(fitted.labels), pd.Series(frame["group"])) == pytest.approx(1.0)
    sizes = [s.size for s in fitted.segments]
    assert sizes == [150, 150, 150] and [s.segment_id for s in fitted.segments] == [0, 1, 2]
    hunters = next(s for s in fitted.segments if s.name.startswith("high discount share"))
    top = hunters.profile[0]
    assert top["feature"] == "discount_share" and top["z"] > 1
    assert top["mean"] == pytest.approx(0.4, abs=0.01)
    assert top["overall_mean"] == pytest.approx((0.4 + 0.02 + 0.02) / 3, abs=0.01)
    # the pipeline assigns a row to the segment it was fitted into
    assert (fitted.pipeline.predict(frame[fitted.columns]) == fitted.labels).all()


def test_segment_names_grow_until_unique_and_say_average_when_nothing_stands_out():
    centroids = pd.DataFrame(
        {"a": [2.0, 2.0, 0.1], "b": [1.0, 1.0, -0.1], "c": [0.5, -0.6, 0.0]}, index=[0, 1, 2]
    )
    assert naming.segment_names(centroids) == [
        "high a, high b, high c",
        "high a, high b, low c",
        "average customers",
    ]
    same = pd.DataFrame({"a": [1.0, 1.0]}, index=[0, 1])
    assert naming.segment_names(same) == ["high a (0)", "high a (1)"]
    assert naming.readable("cat_share_home_kitchen") == "home kitchen share"


def test_relabel_numbers_segments_by_size_and_predict_follows():
    x = np.vstack([np.zeros((10, 2)), np.full((30, 2), 5.0), np.full((20, 2), 10.0)])
    model = naming.relabel(km := kselect.fit_kmeans(x, 3, seed=0), naming.size_order(km))
    assert np.bincount(model.labels_).tolist() == [30, 20, 10]
    assert model.predict(np.array([[5.0, 5.0], [10.0, 10.0], [0.0, 0.0]])).tolist() == [0, 1, 2]


# ------------------------------------------------------------------------------------ agreement
def test_rfm_quintile_cells_and_agreement_with_a_persona_series():
    frame = pd.DataFrame(
        {"recency_days": np.arange(10.0), "orders": np.arange(10.0), "monetary": np.arange(10.0)[::-1]},
        index=pd.Index(range(100, 110), name="customer_id"),
    )
    cells = ev.rfm_segments(frame)
    assert cells.tolist() == ["515", "515", "424", "424", "333", "333", "242", "242", "151", "151"]
    personas = pd.Series(["a"] * 5 + ["b"] * 5, index=range(100, 110))
    perfect = pd.Series([0] * 5 + [1] * 5, index=range(100, 110))
    scores = ev.agreement(perfect, frame, personas)
    assert scores["ari"] == 1.0
    assert scores["rfm_ari"] == pytest.approx(ev.ari_against(cells, personas))
    assert 0 < scores["rfm_ari"] < 1 and scores["ari_over_rfm"] == pytest.approx(1 / scores["rfm_ari"])
    # customers missing from either side do not count; none in common is an error
    assert ev.ari_against(perfect.iloc[:7], personas.iloc[3:]) == 1.0
    with pytest.raises(ValueError, match="share no customer"):
        ev.ari_against(perfect.iloc[:2], personas.iloc[5:])


def test_default_as_of_is_the_month_start_of_the_day_after_the_last_load():
    assert default_as_of(pd.Timestamp("2025-02-28").date()).isoformat() == "2025-03-01"
    assert default_as_of(pd.Timestamp("2025-03-14").date()).isoformat() == "2025-03-01"

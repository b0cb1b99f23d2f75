"""Tests for ``amtfl_tf.published``: the published numbers of the papers.

Spot checks compare against values read directly from the paper texts in
``shared/papers/``; they are typed here by hand, never derived from the
module under test.
"""

import dataclasses
import math

import pytest

from amtfl_tf import published
from amtfl_tf.published import ALL, PAPERS, PublishedNumber

EXPECTED_COUNTS = {
    ("deep_amtfl", "table1"): 24,
    ("deep_amtfl", "table2"): 16,
    ("deep_amtfl_slides", "slides"): 2,
    ("dmtrl", "appendix_table1"): 12,
    ("dmtrl", "appendix_table2"): 18,
    ("damtl", "table4"): 36,
    ("damtl", "table5"): 36,
    ("damtl", "table6"): 12,
    ("damtl", "table7"): 12,
    ("deep_amtfl", "datasets"): 2,
    ("dmtrl", "datasets"): 7,
}


def test_paper_keys():
    assert set(PAPERS) == {"deep_amtfl", "deep_amtfl_slides", "dmtrl", "damtl"}
    for citation in PAPERS.values():
        assert isinstance(citation, str) and len(citation) > 40


@pytest.mark.parametrize("key,count", sorted(EXPECTED_COUNTS.items()))
def test_counts_per_table(key, count):
    assert len(published.table(*key)) == count


def test_tables_lists_exactly_the_expected_tables():
    assert set(published.tables()) == set(EXPECTED_COUNTS)
    assert len(published.tables()) == len(EXPECTED_COUNTS)
    assert len(ALL) == sum(EXPECTED_COUNTS.values())


def test_every_paper_key_is_in_papers():
    assert {n.paper for n in ALL} == set(PAPERS)
    for n in ALL:
        assert n.paper in PAPERS


def test_keys_are_unique():
    keys = [(n.paper, n.table, n.row, n.column) for n in ALL]
    assert len(keys) == len(set(keys))


def test_spreads_non_negative_and_kinds_consistent():
    for n in ALL:
        if n.spread is None:
            assert n.spread_kind is None, n.source
        else:
            assert n.spread >= 0, n.source
            assert n.spread_kind in {"ci95", "std"}, n.source


def test_spread_kinds_per_paper():
    for n in published.table("deep_amtfl", "table1"):
        assert n.spread_kind == "ci95"
    for key in EXPECTED_COUNTS:
        if key[0] == "damtl":
            for n in published.table(*key):
                assert n.spread_kind == "std" and n.spread is not None
    for key in [("deep_amtfl", "table2"), ("dmtrl", "appendix_table1")]:
        for n in published.table(*key):
            assert n.spread is None


def test_values_are_finite_floats():
    for n in ALL:
        assert isinstance(n.value, float) and math.isfinite(n.value)


def test_rows_and_columns_in_printed_order():
    assert published.columns("deep_amtfl", "table1") == (
        "AWA-A",
        "MNIST",
        "School",
        "Room",
    )
    assert published.columns("deep_amtfl", "table2") == (
        "MNIST-Imbalanced",
        "CUB",
        "AWA-C",
        "ImageNet-Small",
    )
    assert published.rows("deep_amtfl", "table1") == (
        "STL",
        "GO-MTL",
        "AMTL",
        "NN",
        "MT-NN",
        "AMTFL",
    )
    assert published.rows("damtl", "table4") == (
        "Single-Task",
        "Multi-task",
        "Cross-Stitch",
        "NDDR-CNN",
        "MTAL",
        "DAMTL",
    )
    assert published.columns("damtl", "table5")[-1] == "NO-3/Tiny ImageNet"
    assert published.columns("damtl", "table4")[0] == "PO-1/Caltech-101"
    assert published.columns("dmtrl", "appendix_table2") == (
        "error_pct",
        "num_params_k",
        "param_ratio",
    )
    first = published.table("deep_amtfl", "table1")[0]
    assert (first.row, first.column) == ("STL", "AWA-A")
    last = published.table("deep_amtfl", "table1")[-1]
    assert (last.row, last.column) == ("AMTFL", "Room")


def test_table_matches_all():
    for key in published.tables():
        got = published.table(*key)
        assert got == tuple(n for n in ALL if (n.paper, n.table) == key)


# (paper, table, row, column, value, spread) straight from the papers.
SPOT_CHECKS = [
    ("deep_amtfl", "table1", "STL", "AWA-A", 37.6, 0.5),
    ("deep_amtfl", "table1", "GO-MTL", "School", 9.87, 0.06),
    ("deep_amtfl", "table1", "AMTFL", "MNIST", 8.68, 0.9),
    ("deep_amtfl", "table1", "NN", "Room", 44.5, 2.0),
    ("deep_amtfl", "table1", "AMTL", "School", 10.13, 0.08),
    ("deep_amtfl", "table2", "CNN", "MNIST-Imbalanced", 8.13, None),
    ("deep_amtfl", "table2", "MT-CNN", "MNIST-Imbalanced", 8.72, None),
    ("deep_amtfl", "table2", "Deep-AMTFL", "MNIST-Imbalanced", 5.82, None),
    ("deep_amtfl", "table2", "Deep-AMTL", "CUB", 45.26, None),
    ("deep_amtfl", "table2", "Deep-AMTFL", "ImageNet-Small", 64.49, None),
    ("deep_amtfl_slides", "slides", "MT-CNN", "MNIST-Imbalanced", 0.9026, None),
    (
        "deep_amtfl_slides",
        "slides",
        "Deep-AMTFL",
        "MNIST-Imbalanced",
        0.9301,
        None,
    ),
    (
        "dmtrl",
        "appendix_table1",
        "Evgeniou & Pontil (2004)",
        "PCA feature",
        15.27,
        None,
    ),
    (
        "dmtrl",
        "appendix_table1",
        "Kumar & Daume III (2012)",
        "CNN feature",
        9.41,
        None,
    ),
    ("dmtrl", "appendix_table1", "DMTRL-TT", "CNN feature", 7.31, None),
    ("dmtrl", "appendix_table2", "STL", "num_params_k", 4351.0, None),
    ("dmtrl", "appendix_table2", "DMTRL-TT", "num_params_k", 2187.0, None),
    ("dmtrl", "appendix_table2", "UD-MTL", "param_ratio", 0.10, None),
    ("dmtrl", "appendix_table2", "UD-MTL-Large", "error_pct", 9.39, None),
    ("damtl", "table4", "Single-Task", "PO-1/Caltech-256", 0.45, 0.037),
    ("damtl", "table4", "MTAL", "PO-2/Amazon", 0.81, 0.042),
    ("damtl", "table4", "DAMTL", "PO-3/DSLR", 0.84, 0.042),
    ("damtl", "table5", "NDDR-CNN", "NO-3/Tiny ImageNet", 0.46, 0.461),
    ("damtl", "table5", "DAMTL", "NO-1/Real World", 0.6, 0.047),
    ("damtl", "table5", "Cross-Stitch", "NO-1/Art", 0.63, 0.057),
    ("damtl", "table6", "DAMTL_Fa", "PO-3/DSLR", 0.63, 0.049),
    ("damtl", "table6", "DAMTL_Fa", "PO-3/Product", 0.76, 0.052),
    ("damtl", "table7", "DAMTL_Fa", "NO-1/Real World", 0.48, 0.048),
]


@pytest.mark.parametrize("paper,tab,row,col,value,spread", SPOT_CHECKS)
def test_spot_checks(paper, tab, row, col, value, spread):
    n = published.get(paper, tab, row, col)
    assert n.value == value
    assert n.spread == spread


def test_metrics_and_direction():
    school = published.get("deep_amtfl", "table1", "STL", "School")
    assert school.metric == "rmse" and not school.higher_is_better
    awa = published.get("deep_amtfl", "table1", "STL", "AWA-A")
    assert awa.metric == "error_pct" and not awa.higher_is_better
    for n in published.table("deep_amtfl", "table2"):
        assert n.metric == "error_pct" and not n.higher_is_better
    for n in published.table("deep_amtfl_slides", "slides"):
        assert n.metric == "accuracy" and n.higher_is_better
    for n in published.table("damtl", "table4"):
        assert n.metric == "accuracy" and n.higher_is_better
    for n in published.table("dmtrl", "appendix_table2"):
        assert n.metric == n.column


def test_ablation_tables_repeat_the_damtl_rows():
    # The paper prints the same DAMTL row in Tables 4/6 and 5/7.
    for main, ablation in [("table4", "table6"), ("table5", "table7")]:
        for col in published.columns("damtl", main):
            a = published.get("damtl", main, "DAMTL", col)
            b = published.get("damtl", ablation, "DAMTL", col)
            assert (a.value, a.spread) == (b.value, b.spread)


def test_uncertain_readings():
    uncertain = {
        (n.paper, n.table, n.row, n.column) for n in ALL if n.uncertain
    }
    assert uncertain == {
        ("dmtrl", "appendix_table1", "Single Task Learning", "PCA feature"),
        ("dmtrl", "appendix_table2", "STL", "error_pct"),
        ("damtl", "table5", "NDDR-CNN", "NO-3/Tiny ImageNet"),
    }
    stl_pca = published.get(
        "dmtrl", "appendix_table1", "Single Task Learning", "PCA feature"
    )
    assert stl_pca.value == 16.89 and "1689" in stl_pca.note
    stl = published.get("dmtrl", "appendix_table2", "STL", "error_pct")
    assert stl.value == 11.32 and "\u220f32" in stl.note


def test_printed_typos_are_noted():
    n = published.get("damtl", "table4", "Cross-Stitch", "PO-3/DSLR")
    assert "Cross-Stich" in n.note and "Dlsr" in n.note
    assert "Cross-Stich" not in published.rows("damtl", "table5")


def test_dash_cells_are_omitted():
    assert published.rows("dmtrl", "appendix_table1")[-1] == "UD-MTL"
    with pytest.raises(KeyError, match="'-'"):
        published.get("dmtrl", "appendix_table1", "DMTRL-TT", "PCA feature")


def test_source_string():
    n = published.get("deep_amtfl", "table1", "GO-MTL", "School")
    assert n.source == (
        "Deep-AMTFL (ICML 2018), Table 1, row GO-MTL, column School"
    )
    for n in ALL:
        assert n.row in n.source and n.column in n.source


def test_records_are_frozen():
    n = ALL[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        n.value = 0.0  # type: ignore[misc]


def test_constructor_rejects_bad_records():
    with pytest.raises(ValueError):
        PublishedNumber(
            "nope", "table1", "STL", "MNIST", 1.0, metric="error_pct"
        )
    with pytest.raises(ValueError):
        PublishedNumber(
            "deep_amtfl",
            "table1",
            "STL",
            "MNIST",
            1.0,
            spread=-0.1,
            spread_kind="ci95",
            metric="error_pct",
        )


def test_get_unknown_row_message():
    with pytest.raises(KeyError) as info:
        published.get("deep_amtfl", "table1", "GOMTL", "School")
    msg = str(info.value)
    assert "GOMTL" in msg and "School" in msg and "table1" in msg
    for row in ("STL", "GO-MTL", "AMTL", "NN", "MT-NN", "AMTFL"):
        assert row in msg


def test_get_unknown_column_message():
    with pytest.raises(KeyError) as info:
        published.get("damtl", "table4", "DAMTL", "Caltech-101")
    msg = str(info.value)
    assert "'Caltech-101'" in msg and "DAMTL" in msg
    assert "PO-1/Caltech-101" in msg and "PO-3/Product" in msg


def test_get_unknown_table_and_paper_messages():
    with pytest.raises(KeyError) as info:
        published.get("dmtrl", "table1", "STL", "error_pct")
    msg = str(info.value)
    assert "'table1'" in msg
    assert "appendix_table1" in msg and "appendix_table2" in msg
    with pytest.raises(KeyError) as info:
        published.get("amtfl", "table1", "STL", "MNIST")
    msg = str(info.value)
    assert "'amtfl'" in msg
    for key in PAPERS:
        assert key in msg
    with pytest.raises(KeyError):
        published.rows("damtl", "table3")
    with pytest.raises(KeyError):
        published.table("deep_amtfl", "table3")

"""Contrast parsing and design validation: every config mistake is a one-line error at load."""

import numpy as np
import pandas as pd
import pytest

from exomir.contrasts import (
    build_contrast_design,
    find_contrast,
    level_text,
    parse_contrasts,
    validate_de_config,
)
from exomir.errors import ExomirError


@pytest.fixture
def sheet():
    return pd.DataFrame(
        {
            "sample": [f"s{i}" for i in range(8)],
            "condition": ["sensitive"] * 4 + ["resistant"] * 4,
            "batch": ["1", "2"] * 4,
            "age": ["31", "45", "52", "38", "60", "29", "41", "47"],
            "site": ["A"] * 4 + ["B"] * 4,
        }
    )


@pytest.fixture
def training():
    """Two groups, subjects measured before and after; 3 trained subjects, 2 controls."""
    return pd.DataFrame(
        {
            "sample": [f"t{i}" for i in range(10)],
            "group": ["trained"] * 6 + ["control"] * 4,
            "subject": ["a", "a", "b", "b", "c", "c", "d", "d", "e", "e"],
            "subject_n": ["1", "1", "2", "2", "3", "3", "1", "1", "2", "2"],
            "timepoint": ["pre", "post"] * 5,
        }
    )


def contrast(**fields):
    base = {"variable": "condition", "level": "resistant", "reference": "sensitive"}
    return {"contrasts": {"c": {**base, **fields}}}


def error_of(config, sheet):
    with pytest.raises(ExomirError) as caught:
        validate_de_config(config, sheet, "samples.tsv")
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_valid_config_passes(sheet):
    validate_de_config({"design": "~ batch + condition", **contrast()}, sheet, "samples.tsv")


def test_contrast_without_own_design_uses_global_design():
    spec = parse_contrasts({"design": "~ batch + condition", **contrast()})[0]
    assert spec.design == "~ batch + condition"


def test_contrast_design_overrides_global_design():
    config = {"design": "~ batch + condition", **contrast(design="~ condition")}
    assert parse_contrasts(config)[0].design == "~ condition"


def test_numeric_levels_compare_as_text():
    assert level_text(1) == level_text(1.0) == level_text("1") == "1"


def test_find_contrast_names_known_contrasts_when_missing():
    with pytest.raises(ExomirError, match="'other'.*defined: c"):
        find_contrast(contrast(), "other")


def test_missing_design_column_is_named(sheet):
    message = error_of(contrast(design="~ sex + condition"), sheet)
    assert "'c'" in message and "'sex'" in message and "samples.tsv" in message


def test_level_absent_from_sheet_is_named(sheet):
    assert "level 'relapsed'" in error_of(contrast(level="relapsed"), sheet)


def test_reference_absent_after_subset_is_reported(sheet):
    message = error_of(contrast(subset={"site": "B"}), sheet)
    assert "reference 'sensitive'" in message and "after subsetting" in message


def test_subset_column_absent(sheet):
    assert "subset column 'tissue'" in error_of(contrast(subset={"tissue": "x"}), sheet)


def test_subset_value_absent(sheet):
    assert "subset value 'C'" in error_of(contrast(subset={"site": "C"}), sheet)


def test_covariate_confounded_with_variable_is_rank_deficient(sheet):
    message = error_of(contrast(design="~ site + condition"), sheet)
    assert "rank-deficient" in message and "'site'" in message


def test_subjects_nested_in_compared_groups_are_rank_deficient(training):
    config = {
        "contrasts": {
            "c": {
                "design": "~ subject + group",
                "variable": "group",
                "level": "trained",
                "reference": "control",
            }
        }
    }
    assert "confounded with 'subject'" in error_of(config, training)


def test_group_with_one_sample_is_refused(sheet):
    one = sheet.iloc[[0, 1, 2, 3, 4]]
    assert "'resistant' has 1 sample(s)" in error_of(contrast(), one)


def test_variable_missing_from_design(sheet):
    assert "not in the design" in error_of(contrast(design="~ batch"), sheet)


def test_design_must_be_one_sided(sheet):
    assert "must start with '~'" in error_of(contrast(design="condition"), sheet)


def test_empty_design_value_names_the_sample(sheet):
    sheet.loc[2, "batch"] = ""
    message = error_of(contrast(design="~ batch + condition"), sheet)
    assert "sample 's2'" in message and "'batch'" in message


def test_reference_is_the_baseline_even_when_not_alphabetically_first(sheet):
    spec = parse_contrasts(contrast(level="sensitive", reference="resistant"))[0]
    design = build_contrast_design(sheet, spec)
    assert design.coefficient == "condition[T.sensitive]"
    assert design.contrast.tolist() == [0.0, 1.0]


def test_numbered_batches_are_factors_not_slopes(sheet):
    sheet["batch"] = ["1", "2", "3", "1", "2", "3", "1", "2"]
    spec = parse_contrasts({"design": "~ batch + condition", **contrast()})[0]
    columns = list(build_contrast_design(sheet, spec).matrix.columns)
    assert "batch[T.2]" in columns and "batch[T.3]" in columns


def test_continuous_covariate_is_one_numeric_column(sheet):
    spec = parse_contrasts(contrast(design="~ age + condition"))[0]
    design = build_contrast_design(sheet, spec, continuous={"age"})
    assert "age" in design.matrix.columns
    assert design.matrix["age"].tolist() == [float(a) for a in sheet["age"]]


def test_non_numeric_continuous_covariate_is_refused(sheet):
    sheet.loc[5, "age"] = "unknown"
    config = {**contrast(design="~ age + condition"), "continuous_covariates": ["age"]}
    assert "non-numeric value 'unknown'" in error_of(config, sheet)


def test_subset_keeps_only_matching_samples(training):
    config = {
        "contrasts": {
            "post_vs_pre": {
                "design": "~ subject + timepoint",
                "variable": "timepoint",
                "level": "post",
                "reference": "pre",
                "subset": {"group": "trained"},
            }
        }
    }
    design = build_contrast_design(training, parse_contrasts(config)[0])
    assert list(design.metadata.index) == [f"t{i}" for i in range(6)]
    assert design.coefficient == "timepoint[T.post]"
    assert design.samples_per_level == {"post": ["t1", "t3", "t5"], "pre": ["t0", "t2", "t4"]}


def nested(at=None):
    spec = {
        "design": "~ group + group:subject_n + group:timepoint",
        "variable": "timepoint",
        "level": "post",
        "reference": "pre",
    }
    if at is not None:
        spec["at"] = at
    return {"contrasts": {"nested": spec}}


def test_unbalanced_nested_design_drops_empty_columns_and_is_full_rank(training):
    design = build_contrast_design(training, parse_contrasts(nested({"group": "trained"}))[0])
    matrix = design.matrix.to_numpy()
    assert (matrix != 0).any(axis=0).all()
    assert np.linalg.matrix_rank(matrix) == matrix.shape[1]
    assert design.coefficient == "group[trained]:timepoint[T.post]"


def test_interaction_without_at_is_refused(training):
    assert "interacts with 'group'" in error_of(nested(), training)


def test_lfc_shrink_needs_a_single_coefficient(training):
    config = {
        **nested({"group": "trained"}),
        "lfc_shrink": True,
    }
    config["contrasts"]["nested"]["design"] = "~ group * timepoint"
    assert "lfc_shrink" in error_of(config, training)


def test_excluded_samples_leave_the_design(sheet):
    spec = parse_contrasts(contrast())[0]
    design = build_contrast_design(sheet, spec, exclude=["s0"])
    assert "s0" not in design.metadata.index
    assert design.samples_per_level["sensitive"] == ["s1", "s2", "s3"]


def test_unknown_normalization_method_fails_at_load(sheet):
    config = {**contrast(), "normalization": {"method": "tmm"}}
    assert "normalization method 'tmm'" in error_of(config, sheet)


def test_contrast_name_must_be_usable_as_a_file_name(sheet):
    config = {"contrasts": {"a/b": contrast()["contrasts"]["c"]}}
    assert "contrast name 'a/b'" in error_of(config, sheet)

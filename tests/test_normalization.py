"""Size factors: DESeq2's median of ratios over miRNAs, spike-ins or reference miRNAs."""

import numpy as np
import pandas as pd
import pytest

from exomir.errors import ExomirError
from exomir.normalization import (
    NormalizationSettings,
    compute_size_factors,
    fractional_cells,
    median_of_ratios,
    normalized_counts,
    read_size_factors,
    rounded_counts,
    write_size_factors,
)


def simulated(seed=11, n_mirnas=200, samples=("A", "B", "C", "D")):
    rng = np.random.default_rng(seed)
    means = np.exp(rng.normal(5, 1.5, n_mirnas))
    depth = rng.uniform(0.5, 2, len(samples))
    values = rng.poisson(np.outer(means, depth))
    names = [f"hsa-miR-{i}-5p" for i in range(n_mirnas)]
    return pd.DataFrame(values, index=names, columns=list(samples)).astype(float), depth


def geometric_mean(values):
    return float(np.exp(np.mean(np.log(values))))


def test_median_of_ratios_of_a_doubled_library_is_twice():
    counts = np.array([[10, 20], [30, 60], [5, 10]])
    factors, estimator = median_of_ratios(counts)
    assert estimator == "ratio"
    assert factors[1] / factors[0] == pytest.approx(2)
    assert geometric_mean(factors) == pytest.approx(1)


def test_median_of_ratios_tracks_sequencing_depth():
    counts, depth = simulated()
    factors, _ = median_of_ratios(counts.to_numpy())
    expected = depth / geometric_mean(depth)
    assert np.allclose(factors, expected, rtol=0.05)


def test_median_of_ratios_agrees_with_pydeseq2():
    from pydeseq2.preprocessing import deseq2_norm

    counts, _ = simulated(seed=5)
    counts.iloc[:20, 1] = 0  # zeros exclude features, as in DESeq2
    ours, _ = median_of_ratios(counts.to_numpy())
    _, theirs = deseq2_norm(counts.T.to_numpy())
    assert np.allclose(ours, theirs / geometric_mean(theirs), rtol=1e-12)


def test_sample_without_reads_gets_no_factor_and_others_still_do():
    counts, _ = simulated()
    counts["D"] = 0
    factors, _ = median_of_ratios(counts.to_numpy())
    assert np.isnan(factors[3])
    assert np.isfinite(factors[:3]).all()
    assert geometric_mean(factors[:3]) == pytest.approx(1)


def test_poscounts_used_when_every_feature_has_a_zero():
    counts = np.array([[0, 10, 20], [5, 0, 10], [8, 16, 0], [4, 8, 16]])
    counts[3, 0] = 0
    factors, estimator = median_of_ratios(counts)
    assert estimator == "poscounts"
    assert np.isfinite(factors).all()


def spikeins_and_endogenous():
    """Sample B carries twice A's endogenous RNA but got the same spike-in amount."""
    endogenous, _ = simulated(seed=3, samples=("A", "B", "C", "D"))
    endogenous["B"] = endogenous["A"] * 2
    spikes = pd.DataFrame(
        {s: [1000.0, 500.0, 250.0, 2000.0] for s in "ABCD"},
        index=[f"spike{i}" for i in range(4)],
    )
    return endogenous, spikes


def test_spikein_factors_follow_spikeins_not_endogenous_rna():
    endogenous, spikes = spikeins_and_endogenous()
    by_spike = compute_size_factors(endogenous, NormalizationSettings("spikein"), spikes)
    by_mirna = compute_size_factors(endogenous, NormalizationSettings())
    spike = by_spike.set_index("sample")["size_factor"]
    mirna = by_mirna.set_index("sample")["size_factor"]
    assert spike["B"] == pytest.approx(spike["A"])
    assert mirna["B"] == pytest.approx(2 * mirna["A"])
    assert set(by_spike["method"]) == {"spikein"}


def test_sample_without_spikein_reads_is_named():
    endogenous, spikes = spikeins_and_endogenous()
    spikes["C"] = 0
    with pytest.raises(ExomirError, match=r"spikein_counts.tsv: sample\(s\) C have zero spike-in"):
        compute_size_factors(
            endogenous, NormalizationSettings("spikein"), spikes, "spikein_counts.tsv"
        )


def test_spikein_method_without_spikein_matrix_is_an_error():
    endogenous, _ = spikeins_and_endogenous()
    with pytest.raises(ExomirError, match="spike-in count matrix"):
        compute_size_factors(endogenous, NormalizationSettings("spikein"))


def test_reference_mirnas_use_only_the_listed_mirnas_by_short_name():
    counts, _ = simulated(samples=("A", "B", "C"))
    references = ("miR-1-5p", "miR-2", "hsa-miR-3-5p")
    counts.loc[["hsa-miR-1-5p", "hsa-miR-2-5p", "hsa-miR-3-5p"], "C"] *= 4
    by_reference = compute_size_factors(
        counts, NormalizationSettings("reference_mirnas", references)
    )
    by_all = compute_size_factors(counts, NormalizationSettings())
    reference = by_reference.set_index("sample")["size_factor"]
    everything = by_all.set_index("sample")["size_factor"]
    boost = (reference["C"] / reference["A"]) / (everything["C"] / everything["A"])
    assert boost == pytest.approx(4, rel=0.25)


def test_unmatched_reference_mirna_is_named():
    counts, _ = simulated()
    settings = NormalizationSettings("reference_mirnas", ("miR-16-5p", "miR-99999"))
    with pytest.raises(ExomirError, match="miR-99999 not in the count matrix"):
        compute_size_factors(counts, settings)


def test_reference_method_needs_a_list():
    with pytest.raises(ExomirError, match="reference_mirnas"):
        NormalizationSettings.from_config({"normalization": {"method": "reference_mirnas"}})


def test_settings_default_to_median_of_ratios():
    assert NormalizationSettings.from_config({}).method == "median_of_ratios"


def test_fractional_counts_are_rounded_and_counted():
    counts = pd.DataFrame({"A": [1.5, 2.0, np.nan], "B": [0.25, 3.0, 4.0]}, index=["x", "y", "z"])
    assert rounded_counts(counts)["A"].tolist() == [2, 2, 0]
    assert fractional_cells(counts) == 2


def test_normalized_counts_divide_by_size_factor():
    counts = pd.DataFrame({"A": [10.0, 20.0], "B": [40.0, 80.0]}, index=["x", "y"])
    factors = pd.Series({"A": 0.5, "B": 2.0})
    assert normalized_counts(counts, factors).to_numpy().tolist() == [[20, 20], [40, 40]]


def test_size_factor_file_round_trips(tmp_path):
    counts, _ = simulated()
    counts["D"] = 0
    table = compute_size_factors(counts, NormalizationSettings())
    write_size_factors(table, tmp_path / "size_factors.tsv")
    back = read_size_factors(tmp_path / "size_factors.tsv", list(counts.columns))
    assert np.allclose(back["size_factor"], table["size_factor"], rtol=1e-9, equal_nan=True)
    assert (tmp_path / "size_factors.tsv").read_text().splitlines()[4] == "D\tNA\tmedian_of_ratios"


def test_size_factor_file_missing_a_sample_is_an_error(tmp_path):
    (tmp_path / "sf.tsv").write_text("sample\tsize_factor\tmethod\nA\t1\tmedian_of_ratios\n")
    with pytest.raises(ExomirError, match=r"sf.tsv: no size factor for sample\(s\) B"):
        read_size_factors(tmp_path / "sf.tsv", ["A", "B"])

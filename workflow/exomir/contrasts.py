"""Contrasts and their designs: parsed from the config and checked against the sample sheet.

A contrast compares two levels of one sample-sheet column under a design formula,
optionally on a subset of the samples. Everything that can make pydeseq2 fail or
silently answer a different question (a missing column, a level absent after subsetting,
a covariate confounded with the variable, a single-sample group) is checked here, when
the workflow loads, so a bad config fails in seconds instead of after alignment.

Design columns are categorical (factors) unless listed in ``continuous_covariates``:
batches and subjects are often numbered 1, 2, 3 and must not become a slope.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from formulaic import Formula
from formulaic_contrasts import FormulaicContrasts

from exomir.config import schema_default
from exomir.errors import ExomirError

DEFAULT_DESIGN = schema_default("design")
MIN_SAMPLES_PER_GROUP = 2
_CONTRAST_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class ContrastSpec:
    """One comparison: ``level`` vs ``reference`` of ``variable`` under ``design``.

    ``subset`` keeps only samples whose columns have the given values (the samples left
    out take no part in the fit); ``at`` fixes the levels of factors that interact with
    the variable, so the fold change is the one *within* that level (all samples are fit).
    """

    name: str
    design: str
    variable: str
    level: str
    reference: str
    subset: dict[str, str] = field(default_factory=dict)
    at: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ContrastDesign:
    """What pydeseq2 needs for one contrast: per-sample factors, model matrix, contrast vector."""

    metadata: pd.DataFrame
    matrix: pd.DataFrame
    contrast: np.ndarray
    samples_per_level: dict[str, list[str]]

    @property
    def coefficient(self) -> str | None:
        """The single model column the contrast tests, if it is one (lfc_shrink needs that)."""
        nonzero = np.flatnonzero(self.contrast)
        if len(nonzero) == 1 and self.contrast[nonzero[0]] == 1:
            return str(self.matrix.columns[nonzero[0]])
        return None


def level_text(value: object) -> str:
    """One text form for sheet values and config levels, so ``1``, ``1.0`` and ``"1"`` agree."""
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value.is_integer():
            return str(int(value))
    return str(value).strip()


def _text_mapping(raw: object, what: str, name: str) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ExomirError(f"config: contrast '{name}': {what} must be a mapping column: value")
    return {str(k): level_text(v) for k, v in raw.items()}


def parse_contrasts(config: Mapping) -> list[ContrastSpec]:
    """The config's contrasts in name order, each with its design (its own or the global one)."""
    default_design = str(config.get("design") or DEFAULT_DESIGN)
    specs = []
    for name, raw in sorted((config.get("contrasts") or {}).items()):
        if not _CONTRAST_NAME.match(str(name)):
            raise ExomirError(
                f"config: contrast name '{name}' must be letters, digits, '_', '-' or '.' "
                "(it becomes a file name)"
            )
        if not isinstance(raw, Mapping):
            raise ExomirError(f"config: contrast '{name}' must be a mapping")
        missing = [k for k in ("variable", "level", "reference") if raw.get(k) in (None, "")]
        if missing:
            raise ExomirError(f"config: contrast '{name}' lacks {', '.join(missing)}")
        specs.append(
            ContrastSpec(
                name=str(name),
                design=str(raw.get("design") or default_design),
                variable=str(raw["variable"]),
                level=level_text(raw["level"]),
                reference=level_text(raw["reference"]),
                subset=_text_mapping(raw.get("subset"), "subset", name),
                at=_text_mapping(raw.get("at"), "at", name),
            )
        )
    return specs


def find_contrast(config: Mapping, name: str) -> ContrastSpec:
    """The named contrast of the config (commands get the whole DE config and a name)."""
    for spec in parse_contrasts(config):
        if spec.name == name:
            return spec
    known = ", ".join(s.name for s in parse_contrasts(config)) or "none"
    raise ExomirError(f"config: no contrast named '{name}' (defined: {known})")


def continuous_covariates(config: Mapping) -> set[str]:
    return {str(c) for c in config.get("continuous_covariates") or []}


def design_formula(design: str, context: str) -> Formula:
    """Parse a one-sided formula; a response (``y ~ x``) or syntax error is the user's to fix."""
    if not design.strip().startswith("~"):
        raise ExomirError(f"{context}: design '{design}' must start with '~' (e.g. '~ condition')")
    try:
        formula = Formula(design)
    except Exception as error:  # formulaic raises several parser error types
        raise ExomirError(f"{context}: design '{design}' does not parse: {error}") from error
    return formula


def design_variables(design: str, context: str = "config") -> list[str]:
    """Sample-sheet columns a design formula uses, sorted."""
    return sorted(design_formula(design, context).required_variables)


def _interacting_variables(design: str, variable: str, context: str) -> set[str]:
    """Columns that appear in an interaction term together with ``variable``."""
    partners: set[str] = set()
    for term in design_formula(design, context):
        names = {str(v) for f in term.factors for v in Formula(f"~ {f}").required_variables}
        if variable in names and len(names) > 1:
            partners |= names - {variable}
    return partners


def _subset_samples(sheet: pd.DataFrame, spec: ContrastSpec, where: str) -> pd.DataFrame:
    rows = sheet
    for column, value in sorted(spec.subset.items()):
        if column not in sheet.columns:
            raise ExomirError(
                f"{where}: contrast '{spec.name}': subset column '{column}' is not in the sheet"
            )
        values = sheet[column].map(level_text)
        if value not in set(values):
            raise ExomirError(
                f"{where}: contrast '{spec.name}': subset value '{value}' does not occur "
                f"in column '{column}'"
            )
        rows = rows[rows[column].map(level_text) == value]
    return rows


def contrast_metadata(
    sheet: pd.DataFrame,
    spec: ContrastSpec,
    continuous: Iterable[str] = (),
    where: str = "sample sheet",
    exclude: Iterable[str] = (),
) -> pd.DataFrame:
    """Design columns of the contrast's samples, typed for formulaic and indexed by sample.

    Factors are categoricals of the levels present, sorted, with the contrast's reference
    first so model coefficients read "level vs reference" (pydeseq2 would otherwise take
    the alphabetically first level as the baseline).
    """
    if "sample" not in sheet.columns:
        raise ExomirError(f"{where}: no 'sample' column")
    variables = design_variables(spec.design, f"{where}: contrast '{spec.name}'")
    if spec.variable not in variables:
        raise ExomirError(
            f"{where}: contrast '{spec.name}': variable '{spec.variable}' is not in the "
            f"design '{spec.design}'"
        )
    for column in [*variables, *spec.at]:
        if column not in sheet.columns:
            raise ExomirError(
                f"{where}: contrast '{spec.name}': design column '{column}' is not in the sheet"
            )
    rows = _subset_samples(sheet, spec, where)
    excluded = set(exclude)
    rows = rows[~rows["sample"].map(level_text).isin(excluded)]
    continuous = set(continuous)
    metadata = pd.DataFrame(index=pd.Index([level_text(s) for s in rows["sample"]], name="sample"))
    for column in variables:
        values = rows[column].tolist()
        if column in continuous and column != spec.variable:
            metadata[column] = _numeric_column(values, metadata.index, column, spec, where)
            continue
        texts = [level_text(v) for v in values]
        for sample, text in zip(metadata.index, texts, strict=True):
            if text == "":
                raise ExomirError(
                    f"{where}: contrast '{spec.name}': sample '{sample}' has no value "
                    f"in design column '{column}'"
                )
        levels = sorted(set(texts))
        if column == spec.variable and spec.reference in levels:
            levels = [spec.reference] + [lv for lv in levels if lv != spec.reference]
        metadata[column] = pd.Categorical(texts, categories=levels)
    return metadata


def _numeric_column(
    values: list, samples: pd.Index, column: str, spec: ContrastSpec, where: str
) -> list[float]:
    numbers = []
    for sample, value in zip(samples, values, strict=True):
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number):
            raise ExomirError(
                f"{where}: contrast '{spec.name}': sample '{sample}' has non-numeric value "
                f"'{value}' in continuous covariate '{column}'"
            )
        numbers.append(number)
    return numbers


def _dependent_column(matrix: np.ndarray, columns: list[str]) -> str:
    """First model column that adds no rank: the one confounded with earlier columns."""
    rank = 0
    for i, column in enumerate(columns):
        new_rank = np.linalg.matrix_rank(matrix[:, : i + 1])
        if new_rank == rank:
            return column
        rank = new_rank
    return columns[-1]


def _confounders(metadata: pd.DataFrame, variable: str) -> list[str]:
    """Factors whose every level falls within one level of ``variable`` (batch = condition,
    or subjects nested in the compared groups): with them the variable has no own effect."""
    found = []
    for column in metadata.columns:
        if column == variable or not isinstance(metadata[column].dtype, pd.CategoricalDtype):
            continue
        levels_per_value = metadata.groupby(column, observed=True)[variable].nunique()
        if (levels_per_value <= 1).all():
            found.append(column)
    return found


def build_contrast_design(
    sheet: pd.DataFrame,
    spec: ContrastSpec,
    continuous: Iterable[str] = (),
    where: str = "sample sheet",
    exclude: Iterable[str] = (),
) -> ContrastDesign:
    """Model matrix and contrast vector for one contrast, or an ExomirError saying why not.

    Model columns that are all zero (an unbalanced nested design, e.g. a group with fewer
    subjects than another) are dropped, as the DESeq2 vignette advises; any remaining
    linear dependence is a confounded design and is refused.
    """
    context = f"{where}: contrast '{spec.name}'"
    metadata = contrast_metadata(sheet, spec, continuous, where, exclude)
    variable = metadata[spec.variable]
    for role, level in (("level", spec.level), ("reference", spec.reference)):
        if level not in set(variable.astype(str)):
            scope = " after subsetting" if spec.subset else ""
            raise ExomirError(
                f"{context}: {role} '{level}' does not occur in column '{spec.variable}'{scope}"
            )
    if spec.level == spec.reference:
        raise ExomirError(f"{context}: level and reference are both '{spec.level}'")
    for column, value in sorted(spec.at.items()):
        if column not in metadata.columns:
            raise ExomirError(f"{context}: 'at' column '{column}' is not in the design")
        if value not in set(metadata[column].astype(str)):
            raise ExomirError(f"{context}: 'at' value '{value}' does not occur in '{column}'")
    partners = _interacting_variables(spec.design, spec.variable, context)
    for column in sorted(partners - set(spec.at)):
        if column in metadata.columns and metadata[column].nunique() > 1:
            raise ExomirError(
                f"{context}: '{spec.variable}' interacts with '{column}' in the design; "
                f"say at which level to compare with at: {{{column}: ...}}"
            )
    in_scope = pd.Series(True, index=metadata.index)
    for column, value in spec.at.items():
        in_scope &= metadata[column].astype(str) == value
    samples_per_level = {
        level: sorted(metadata.index[in_scope & (variable.astype(str) == level)])
        for level in (spec.level, spec.reference)
    }
    for level, members in samples_per_level.items():
        if len(members) < MIN_SAMPLES_PER_GROUP:
            raise ExomirError(
                f"{context}: {spec.variable} = '{level}' has {len(members)} sample(s); "
                f"at least {MIN_SAMPLES_PER_GROUP} are needed"
            )
    try:
        model = FormulaicContrasts(metadata, spec.design)
        values = {spec.variable: spec.level, **spec.at}
        base = {spec.variable: spec.reference, **spec.at}
        contrast = (model.cond(**values) - model.cond(**base)).to_numpy(dtype=float)
    except ExomirError:
        raise
    except Exception as error:  # formulaic errors: unknown function, bad term ...
        raise ExomirError(f"{context}: cannot build design '{spec.design}': {error}") from error
    matrix = pd.DataFrame(model.design_matrix).astype(float)
    matrix.index = metadata.index
    keep = (matrix != 0).any(axis=0).to_numpy()
    if np.any(contrast[~keep] != 0):
        raise ExomirError(f"{context}: the contrast is not estimable under '{spec.design}'")
    matrix = matrix.loc[:, keep]
    contrast = contrast[keep]
    values = matrix.to_numpy()
    rank = np.linalg.matrix_rank(values)
    if rank < values.shape[1]:
        confounders = _confounders(metadata, spec.variable)
        if confounders:
            reason = f"'{spec.variable}' is confounded with '{confounders[0]}'"
        else:
            column = _dependent_column(values, list(matrix.columns))
            reason = f"model column '{column}' is a combination of the others"
        raise ExomirError(f"{context}: design '{spec.design}' is rank-deficient: {reason}")
    if len(matrix) <= rank:
        raise ExomirError(
            f"{context}: design '{spec.design}' has {rank} coefficients for {len(matrix)} "
            "samples; no replicates are left to estimate dispersion"
        )
    return ContrastDesign(metadata, matrix, contrast, samples_per_level)


def validate_de_config(config: Mapping, sheet: pd.DataFrame, sheet_path: str) -> None:
    """Check every contrast against the sample sheet; raise ExomirError on the first problem.

    Called when the workflow loads, before any job runs.
    """
    from exomir.normalization import NormalizationSettings

    NormalizationSettings.from_config(config)
    continuous = continuous_covariates(config)
    for column in sorted(continuous):
        if column not in sheet.columns:
            raise ExomirError(f"{sheet_path}: continuous covariate '{column}' is not a column")
    for spec in parse_contrasts(config):
        design = build_contrast_design(sheet, spec, continuous, where=sheet_path)
        if config.get("lfc_shrink") and design.coefficient is None:
            raise ExomirError(
                f"{sheet_path}: contrast '{spec.name}': lfc_shrink needs a contrast that is "
                f"one model coefficient; '{spec.design}' does not give one"
            )


PCA_COLUMNS = ("condition", "batch")


def pca_columns(config: dict, sheet_columns: Iterable[str]) -> list[str]:
    """Sheet columns to colour PCA plots by: condition, batch and each contrast's variable."""
    sheet_columns = list(sheet_columns)
    contrasts = config.get("contrasts") or {}
    variables = [c.get("variable") for _, c in sorted(contrasts.items())]
    columns: list[str] = []
    for column in (*PCA_COLUMNS, *variables):
        if column in sheet_columns and column not in columns:
            columns.append(column)
    return columns

"""Config validation: schema defaults, and one-line errors that name the key."""

from __future__ import annotations

import pytest

from exomir.config import validate_config
from exomir.errors import ExomirError


def error_of(config):
    with pytest.raises(ExomirError) as info:
        validate_config(config, source="config my.yaml")
    return str(info.value)


def test_defaults_are_filled_in_nested_keys():
    config = validate_config({"samples": "s.tsv", "reference": {"source": "download"}})
    assert config["protocol"] == "auto"
    assert config["multimapper"] == "fractional"
    assert config["reference"]["release"] == "22.1"
    assert config["isomir_tolerance"] == {"five_prime": 2, "three_prime": 5}
    assert config["spikeins"][0] == "cel-miR-39-3p"


def test_missing_samples_is_an_error_not_a_fallback():
    message = error_of({"protocol": "auto"})
    assert message.startswith("config my.yaml: required key 'samples' is missing")


def test_enum_violation_lists_allowed_values():
    message = error_of({"samples": "s", "multimapper": "fraction"})
    assert "'multimapper'" in message and "'fractional'" in message and "\n" not in message


def test_unknown_key_is_named():
    message = error_of({"samples": "s", "protocl": "auto"})
    assert "'protocl'" in message and "known keys" in message


def test_nested_key_path_is_named():
    message = error_of({"samples": "s", "isomir_tolerance": {"five_prime": -1}})
    assert "isomir_tolerance.five_prime" in message


def test_relations_between_keys():
    assert "min_length" in error_of({"samples": "s", "min_length": 31, "max_length": 30})
    assert "adapter" in error_of({"samples": "s", "protocol": "custom"})
    assert "reference.hairpin" in error_of({"samples": "s", "reference": {"source": "local"}})


def test_adapter_must_be_dna():
    assert "'adapter'" in error_of({"samples": "s", "adapter": "TGG AAT"})


def test_input_config_is_not_modified():
    original = {"samples": "s"}
    validate_config(original)
    assert original == {"samples": "s"}

"""Test tools, not part of the product: the read simulator with known truth and the accuracy
evaluator that scores the pipeline's counts against it (tests and tests/bench use them)."""

"""Command modules of the ``exomir`` CLI, one per rule-facing command (see exomir.cli)."""

"""Use cases of lead-intake, over ports."""

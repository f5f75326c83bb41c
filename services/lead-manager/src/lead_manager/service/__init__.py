"""lead-manager's use cases: handlers over the unit-of-work port."""

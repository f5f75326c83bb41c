"""OSB notifier."""

"""customer-matching."""

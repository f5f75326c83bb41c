"""lead-intake's adapters: the idempotency store in PostgreSQL."""

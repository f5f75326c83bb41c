"""lead-manager's adapters: PostgreSQL tables, repositories, unit of work, outbox relay."""

"""Thin transport layer: Kafka subscribers, the HTTP API, the app factory, the CLI."""

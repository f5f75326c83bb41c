"""Thin transport layer: Kafka subscriber, HTTP routes, the app factory."""

"""Shared pytest fixtures for every OSB package (registered as the ``osb_testing`` plugin)."""

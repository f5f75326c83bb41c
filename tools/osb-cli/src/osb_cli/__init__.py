"""The operator's command line for the OSB pipeline."""

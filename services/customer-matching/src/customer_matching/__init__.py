"""OSB service package."""

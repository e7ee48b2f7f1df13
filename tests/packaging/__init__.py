"""Building and installing the package."""

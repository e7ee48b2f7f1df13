"""The Python test suite, grouped by area; what several areas share is in support/."""

"""Unattended running: hostile servers, arbitrary inputs, load, soak and interpreter exit."""

"""Shared by the test areas: the scripted HTTP server, sandbox data and child processes."""

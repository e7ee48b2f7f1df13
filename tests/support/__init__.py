"""Shared by the test areas: the scripted HTTP server, sandbox data, child processes, a real
redis-server and worker processes sharing a rate limit."""

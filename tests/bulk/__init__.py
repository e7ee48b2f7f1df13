"""Bulk runs: reports, streaming, checkpoints, progress, pacing, interruption, memory, and the
DataFrame, notebook and multiprocessing recipes."""

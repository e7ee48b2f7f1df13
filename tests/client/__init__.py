"""Client, AsyncClient and the module functions: calls, errors, inputs, retries, async,
processes, panics, logging and types."""

"""The API key stays secret, transport is safe, and no input can change the request."""

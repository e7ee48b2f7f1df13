"""The sandbox (the fake HelpCrunch server) and its pytest fixture."""

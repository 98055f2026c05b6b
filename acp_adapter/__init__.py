"""The ACP edge: translates Agent Client Protocol messages to the agent core (not built yet)."""

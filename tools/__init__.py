"""The tool registry and the agent's tools. Imports no protocol edge."""

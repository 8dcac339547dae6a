"""Versioned YAML configs: one pydantic model per kind, loaded and cross-checked as a set."""

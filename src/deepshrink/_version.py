"""The package version: its one declaration (pyproject.toml reads it from here)."""

__version__ = "0.1.0"

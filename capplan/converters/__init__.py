"""Converters from real public traces to the history format (events + series tables)."""

from capplan.converters import worldcup98

CONVERTERS = {"worldcup98": worldcup98}

__all__ = ["CONVERTERS", "worldcup98"]

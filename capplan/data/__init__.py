"""Event histories: the events and series tables, their checks, and the shipped data."""

from capplan.data.history import History
from capplan.data.load import load_history
from capplan.data.shipped import sample_history, worldcup98_history

__all__ = ["History", "load_history", "sample_history", "worldcup98_history"]

"""Event histories: the events and series tables, their checks, and the shipped data."""

from capplan.data.history import History
from capplan.data.load import load_history
from capplan.data.shipped import (
    azure_llm2023_history,
    azure_llm2023_requests,
    higgs2012_history,
    sample_history,
    worldcup98_history,
)

__all__ = [
    "History",
    "azure_llm2023_history",
    "azure_llm2023_requests",
    "higgs2012_history",
    "load_history",
    "sample_history",
    "worldcup98_history",
]

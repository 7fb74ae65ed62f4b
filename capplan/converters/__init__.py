"""Converters from real public traces to the history format (events + series tables)."""

from capplan.converters import azure_llm2023, higgs2012, worldcup98

CONVERTERS = {"azure_llm2023": azure_llm2023, "higgs2012": higgs2012, "worldcup98": worldcup98}

__all__ = ["CONVERTERS", "azure_llm2023", "higgs2012", "worldcup98"]

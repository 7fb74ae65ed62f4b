"""Tables as text, for the results' ``__str__``."""

import pandas as pd


def table_text(frame: pd.DataFrame, digits: int = 6, max_colwidth: int = 70) -> str:
    """`frame` as text: every column shown, numbers to `digits` significant figures."""
    with pd.option_context(
        "display.width",
        240,
        "display.max_columns",
        None,
        "display.max_colwidth",
        max_colwidth,
        "display.float_format",
        f"{{:.{digits}g}}".format,
    ):
        return str(frame)

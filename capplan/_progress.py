"""One progress bar for long work (tqdm: a widget in Jupyter, text on stderr elsewhere)."""

import importlib.util
import sys


def progress_bar(total: int, desc: str, unit: str, enabled: bool):
    """A tqdm bar of ``total`` steps, silent unless ``enabled``.

    In Jupyter the bar is a widget, which needs ipywidgets; without it a notebook would
    get tqdm's warning or a text bar in its output (and in its exported report), so there
    the bar is off. Elsewhere it is the text bar on stderr.
    """
    widgets = importlib.util.find_spec("ipywidgets") is not None
    if "ipykernel" in sys.modules and not widgets:
        enabled = False
    if enabled and widgets:
        from tqdm.auto import tqdm
    else:
        from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled)

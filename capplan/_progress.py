"""One progress bar for long work (tqdm: a widget in Jupyter, text on stderr elsewhere)."""

import importlib.util


def progress_bar(total: int, desc: str, unit: str, enabled: bool):
    """A tqdm bar of ``total`` steps, silent unless ``enabled``.

    ``tqdm.auto`` draws a widget in Jupyter only with ipywidgets installed, and without
    it prints a warning into the notebook; so it is used only when ipywidgets is there,
    else the plain text bar.
    """
    if enabled and importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.auto import tqdm
    else:
        from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled)

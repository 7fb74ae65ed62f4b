"""One progress bar for long work (tqdm: a widget in Jupyter, text on stderr elsewhere)."""


def progress_bar(total: int, desc: str, unit: str, enabled: bool):
    """A tqdm bar of ``total`` steps, silent unless ``enabled``."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled)

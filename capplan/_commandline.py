"""What every capplan command shares: a refusal is one line of stderr."""

from __future__ import annotations

import argparse
import re


def one_line(message) -> str:
    """A message on one line: its lines joined, so that a refusal is one line of stderr."""
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    return "; ".join(lines) if lines else repr(message)


class OneLineParser(argparse.ArgumentParser):
    """Refusals of the command line in one line, as every other refusal is; exit code 2."""

    def error(self, message):
        # "argument -o/--output: must be ..." reads "--output must be ..."
        named = re.fullmatch(r"argument (\S+): (.*)", message, flags=re.DOTALL)
        if named:
            name = max(named.group(1).split("/"), key=len)
            rest = named.group(2)
            message = f"{name} {rest}" if rest.startswith("must ") else f"{name}: {rest}"
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")

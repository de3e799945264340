"""The `dnd` command line (`dnd.cli.main`); `dnd = "dnd.cli:main"` is the console script."""

from dnd.cli.main import main

__all__ = ["main"]

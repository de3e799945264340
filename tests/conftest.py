"""Shared fixtures. Real datasets live outside the package; tests find them where the package
does, through $DND_DATA (default: ../shared/data next to the checkout; `--shared-data DIR` wins)."""

import os
from pathlib import Path

import pytest
import torch

from dnd.data.tasks.build import DATA_ENV

# Tiny models on a 2-core runner: one thread avoids OpenMP oversubscription, several times faster.
torch.set_num_threads(1)

_DEFAULT = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def pytest_addoption(parser):
    parser.addoption("--shared-data", default=os.environ.get(DATA_ENV) or str(_DEFAULT),
                     help=f"folder holding the real public datasets (default: ${DATA_ENV}, else {_DEFAULT})")


@pytest.fixture(scope="session")
def shared_data(request) -> Path:
    return Path(request.config.getoption("--shared-data"))


@pytest.fixture
def shared_file(shared_data):
    """Path of a file under shared data; skips with the reason when the file is absent."""

    def _get(rel: str) -> Path:
        p = shared_data / rel
        if not p.exists():
            pytest.skip(f"real dataset file not present: {p}")
        return p

    return _get

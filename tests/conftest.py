"""Shared fixtures. Real datasets live outside the package; tests find them through the
DND_SHARED_DATA environment variable (default: ../shared/data next to the checkout)."""

import os
from pathlib import Path

import pytest
import torch

# Tiny models on a 2-core runner: one thread avoids OpenMP oversubscription, several times faster.
torch.set_num_threads(1)

_DEFAULT = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def pytest_addoption(parser):
    parser.addoption("--shared-data", default=os.environ.get("DND_SHARED_DATA", str(_DEFAULT)),
                     help="folder holding the real public datasets (shared/data)")


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

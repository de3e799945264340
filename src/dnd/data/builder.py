"""Building paired records from a 3D source in worker processes: the expensive per-record work
(`build` of a `dnd.data.sources` module) runs on chunks of input items, and bad records come back
as reasons for the report instead of stopping the run. Used by `dnd.data.corpus.load_paired`
and by the sharded conformer builds of `dnd.data.conformer_corpus`.
"""

from __future__ import annotations

import importlib
from functools import partial
from multiprocessing import Pool
from pathlib import Path
from types import ModuleType
from typing import Iterable, Iterator

from rdkit import rdBase

from dnd.data.config import PAIRED_SOURCES
from dnd.data.paired import PairedArrays
from dnd.data.report import RecordError, Report
from dnd.errors import UnknownNameError


def source_module(source: str) -> ModuleType:
    """The reader module of paired source `source` (a key of PAIRED_SOURCES)."""
    if source not in PAIRED_SOURCES:
        raise UnknownNameError(f"unknown paired source {source!r}; choose from {', '.join(PAIRED_SOURCES)}")
    return importlib.import_module(PAIRED_SOURCES[source])


_CHUNK = 64


def _build_chunk(source: str, options, chunk: list) -> list:
    """Worker: [(label, payload)] -> [(label, list[PairedArrays] | reason str)]."""
    module = source_module(source)
    out = []
    with rdBase.BlockLogs():  # reasons are captured per record; RDKit's stderr is just noise
        for label, payload in chunk:
            try:
                out.append((label, module.build(payload, label, options)))
            except RecordError as e:
                out.append((label, str(e)))
            except Exception as e:  # noqa: BLE001 - one odd record must not end a long run
                out.append((label, f"{type(e).__name__}: {e}"))
    return out


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def build_records(source: str, options, path: Path, items: Iterable, workers: int,
             report: Report) -> list[PairedArrays]:
    work = partial(_build_chunk, source, options)
    records: list[PairedArrays] = []
    pool = Pool(workers) if workers > 1 else None
    try:
        chunks = _chunks(items, _CHUNK)
        results = pool.imap(work, chunks) if pool else map(work, chunks)
        for chunk in results:
            for label, result in chunk:
                if isinstance(result, str):
                    report.bad(str(path), label, result)
                else:
                    records.extend(result)
                    report.ok()
    finally:
        if pool:
            pool.terminate()
    return records

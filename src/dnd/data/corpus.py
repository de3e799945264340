"""The pretraining corpus: ONE way to load, sample and split it, for every stage.

`dnd denoise`, `dnd distill`, `dnd infomax`, `dnd attention` and `dnd run` all select their
molecules with `load_corpus(CorpusConfig)` and split them with `split_records`, so the same
source, limit, sample size and seed give the same molecules and the same validation split in
every stage (which is what lets a student be distilled on exactly its teacher's corpus).

- `load_paired` reads a 3D source file (one module per source in `dnd.data.sources`) into paired
  records, in parallel and through the record cache (`dnd.data.cache`).
- `sample_records` keeps a seeded random subset. It draws with numpy
  (`default_rng(seed).choice(n, k, replace=False)`, kept in file order), the sampler `dnd run`
  always used; the command line's torch `randperm` sampler was dropped, because the committed
  cpu-small experiment was built with numpy's and one sampler must serve both.
- `split_records` is the seeded validation hold-out of every stage.
"""

from __future__ import annotations

import gzip
import logging
import lzma
import os
import zlib
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch_geometric.data import Data

from dnd.data import builder, cache
from dnd.data.config import CorpusConfig, check_hydrogens
from dnd.data.featurize import atom_limit
from dnd.data.paired import make_data
from dnd.data.report import BadRecordError, DataFileError, Report
from dnd.data.sources import source_files
from dnd.errors import UsageError

log = logging.getLogger(__name__)


def load_corpus(c: CorpusConfig) -> list[Data]:
    """The corpus records: read (at most `limit`, in file order), optionally restricted to a
    QM9 pool slice, then a seeded random `sample`. Files such as QM9 are ordered by molecule
    size, so their first N records are not representative: use `sample` for a subset."""
    with atom_limit(c.max_atoms):
        return _load_corpus(c)


def _load_corpus(c: CorpusConfig) -> list[Data]:
    check_hydrogens(c.hydrogens)
    if c.source != "smiles" and (c.num_conformers, c.conformer_seed) != (1, 0):
        raise UsageError(f"num_conformers/conformer_seed apply to the smiles source only, not {c.source!r}")
    if c.source == "embedded":
        from dnd.data.embedded import qm9_paired

        records = qm9_paired(limit=c.limit or None, hydrogens=c.hydrogens)
    elif not c.path:
        raise UsageError(f"--source {c.source} needs --path (the data file)")
    elif c.source == "records":
        from dnd.data.conformer_corpus import load_records_file

        if c.hydrogens != "dft":
            raise UsageError("the records source holds records built already; set hydrogens when "
                             "building them, not when loading")
        records = load_records_file(c.path)[: c.limit]
    else:
        options = {"num_conformers": c.num_conformers, "seed": c.conformer_seed} if c.source == "smiles" else {}
        records = load_paired(c.source, c.path, limit=c.limit, cache_dir=c.cache_dir, hydrogens=c.hydrogens,
                              **options)
    if c.qm9_pool is not None:
        if c.source != "qm9":
            raise UsageError(f"qm9_pool selects QM9 molecules; the corpus source is {c.source!r}")
        records = qm9_pool_subset(records, c.path, *c.qm9_pool)
    return sample_records(records, c.sample, c.seed)


def sample_records(records: Sequence[Data], n: int | None, seed: int) -> list[Data]:
    """A seeded random subset of `n` records in their original order (all of them when n is
    None or not smaller than the corpus)."""
    if n is None or n >= len(records):
        return list(records)
    if n < 1:
        raise UsageError(f"sample size must be positive, got {n}")
    keep = np.sort(np.random.default_rng(seed).choice(len(records), n, replace=False))
    return [records[i] for i in keep]


def split_records(records: Sequence[Data], val_fraction: float, seed: int) -> tuple[list[Data], list[Data]]:
    """Seeded random hold-out: (train, validation). At least one validation record when asked."""
    if not 0.0 <= val_fraction < 1.0:
        raise UsageError(f"val_fraction must be in [0, 1), got {val_fraction}")
    n = len(records)
    n_val = 0 if val_fraction == 0 else max(1, round(n * val_fraction))
    if n - n_val < 1:
        raise UsageError(f"{n} records are too few for a validation fraction of {val_fraction}")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    return [records[i] for i in order[n_val:]], [records[i] for i in order[:n_val]]


def held_out(records: Sequence[Data], molecules: int, val_fraction: float, seed: int) -> list[Data]:
    """Up to `molecules` of the corpus's held-out part, as the students' pretraining split it
    (`split_records` with their val_fraction and seed): molecules they never trained on, in
    random order. (A file's first N molecules are no sample: QM9 is ordered by size.)"""
    _, val = split_records(records, val_fraction, seed)
    return val[:molecules]


def qm9_pool_subset(records: Sequence[Data], path: str, start: int, stop: int) -> list[Data]:
    """The records of 3DInfomax's QM9 training-pool slice [start, stop) (by QM9 index)."""
    from dnd.data.tasks.build import read_table
    from dnd.data.tasks.qm9 import qm9_split

    index = read_table(path, ["Index"], usecols=["Index"])["Index"].sort_values().to_numpy()
    wanted = set(index[qm9_split(len(index), train_size=stop - start, train_offset=start)["train"]].tolist())
    return [r for r in records if int(str(r.mol_id).rsplit("_", 1)[1]) in wanted]


# ----------------------------------------------------------------------------- 3D source files

# what reading a file that is not what its name says raises (decoding happens while iterating)
_UNREADABLE = (UnicodeDecodeError, EOFError, zlib.error, lzma.LZMAError, gzip.BadGzipFile)


def load_paired(source: str, path: str | os.PathLike, limit: int | None = None,
                strict: bool = False, cache_dir: str | os.PathLike | None = None,
                report: Report | None = None, workers: int | None = None,
                **options) -> list[Data]:
    """Paired records from a 3D source file.

    source: "qm9" (qm9pack CSV), "sdf" (any SDF, .gz ok, or a folder of them), "pcqm4mv2" (CXSMILES CSV with
    coordinates), "smiles" (SMILES file/CSV; conformers generated with RDKit).
    limit: read at most this many input records. strict: raise BadRecordError at the first bad
    record instead of skipping it. cache_dir: reuse/write the processed set there (keyed by the
    source file's hash, featurizer version and all options). report: a `Report` to fill (else a
    summary of skipped records is logged). workers: processes (default: all cores).
    options: source-specific, see `Options` in each `dnd.data.sources` module.
    Raises DataFileError for a missing or empty file or one that yields no records.
    """
    module = builder.source_module(source)
    opts = module.Options(**options)
    paths = source_files(Path(path), module)
    own_report = report is None
    report = report if report is not None else Report(strict=strict)
    report.strict = strict

    key_opts = {"source": source, "limit": limit, **asdict(opts)}
    cache_file = cache.cache_path(cache_dir, paths, key_opts) if cache_dir is not None else None
    cached = cache.load(cache_file) if cache_file is not None else None
    if cached is not None:
        collated, cached_report = cached
        if strict and cached_report.entries:
            raise BadRecordError(f"{cached_report.entries[0]} (strict mode: stopping)")
        report.extend(cached_report)
    else:
        run_report = Report(strict=strict)
        records = []
        for file in paths:  # shards one after the other; `limit` counts input records over all
            left = None if limit is None else limit - run_report.n_ok - run_report.n_bad
            if left is not None and left <= 0:
                break
            items = module.read_items(file, left, opts)
            try:
                records += builder.build_records(source, opts, file, items, workers or os.cpu_count() or 1, run_report)
            except _UNREADABLE as err:  # binary data, corrupt or truncated compression
                raise DataFileError(f"{file}: cannot be read as a {source} file "
                                    f"({type(err).__name__}: {err})") from None
        if run_report.n_ok + run_report.n_bad == 0:
            raise DataFileError(f"{path}: no records found")
        collated = cache.collate(records)
        if cache_file is not None:
            cache.save(cache_file, collated, run_report)
        report.extend(run_report)
    if own_report and report.n_bad:
        log.warning("%s (%s): %s", path, source, report.summary())
    return cache.uncollate(collated, make_data)

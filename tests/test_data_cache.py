"""Processed-dataset cache (reuse, invalidation, atomic write) and the embedded QM9 subset."""

import gzip

import numpy as np
import pytest
import torch

from dnd.data import builder, embedded
from dnd.data.corpus import load_paired
from dnd.data.report import BadRecordError, Report


def _records_equal(a, b):
    assert len(a) == len(b)
    for p, q in zip(a, b):
        assert p.keys() == q.keys() and p.mol_id == q.mol_id and p.smiles == q.smiles
        for k in ("x", "edge_index", "edge_attr", "z", "pos", "atom_is_node"):
            assert torch.equal(p[k], q[k]), k


@pytest.fixture
def small_sdf(tmp_path, shared_file):
    """First 250 records of gdb1k (includes the bad records 198, 202, 221)."""
    text = gzip.open(shared_file("qm9/gdb1k.sdf.gz"), "rt").read()
    records = text.split("$$$$\n")[:250]
    path = tmp_path / "src" / "small.sdf"
    path.parent.mkdir()
    path.write_text("$$$$\n".join(records) + "$$$$\n")
    return path


def test_cache_reused_then_invalidated_by_changed_source(tmp_path, small_sdf, monkeypatch):
    cache_dir = tmp_path / "cache"
    first_report = Report()
    first = load_paired("sdf", small_sdf, cache_dir=cache_dir, report=first_report, workers=1)
    files = list(cache_dir.glob("*.pt"))
    assert len(files) == 1 and not list(cache_dir.glob("*.tmp"))  # atomic: no temp left

    def no_processing(*a, **k):
        raise AssertionError("cache was not used")

    monkeypatch.setattr(builder, "build_records", no_processing)
    report = Report()
    second = load_paired("sdf", small_sdf, cache_dir=cache_dir, report=report)
    _records_equal(first, second)
    assert (report.n_ok, report.n_bad) == (first_report.n_ok, first_report.n_bad)
    assert report.entries == first_report.entries  # bad records still reported from cache
    with pytest.raises(BadRecordError, match="record 47"):
        load_paired("sdf", small_sdf, cache_dir=cache_dir, strict=True)

    monkeypatch.undo()
    text = small_sdf.read_text()
    small_sdf.write_text(text[: text.index("$$$$\n") + 5])  # now only the first record
    third = load_paired("sdf", small_sdf, cache_dir=cache_dir, workers=1)
    assert len(third) == 1 and len(list(cache_dir.glob("*.pt"))) == 2
    _records_equal(third, first[:1])


def test_cache_key_depends_on_options(tmp_path, small_sdf):
    cache_dir = tmp_path / "cache"
    load_paired("sdf", small_sdf, cache_dir=cache_dir, limit=10, workers=1)
    load_paired("sdf", small_sdf, cache_dir=cache_dir, limit=20, workers=1)
    assert len(list(cache_dir.glob("*.pt"))) == 2


def test_corrupt_cache_file_is_rebuilt(tmp_path, small_sdf):
    cache_dir = tmp_path / "cache"
    first = load_paired("sdf", small_sdf, cache_dir=cache_dir, limit=30, workers=1)
    (cache_file,) = cache_dir.glob("*.pt")
    cache_file.write_bytes(b"truncated")
    again = load_paired("sdf", small_sdf, cache_dir=cache_dir, limit=30, workers=1)
    _records_equal(first, again)
    assert cache_file.stat().st_size > 1000


def test_cached_file_loads_with_weights_only(tmp_path, small_sdf):
    cache_dir = tmp_path / "cache"
    load_paired("sdf", small_sdf, cache_dir=cache_dir, limit=30, workers=1)
    (cache_file,) = cache_dir.glob("*.pt")
    blob = torch.load(cache_file, weights_only=True)
    assert blob["data"]["n_atoms"].numel() == 30


def test_embedded_qm9_subset_is_small_and_consistent():
    path = embedded.embedded_dir() / embedded.QM9_FILE
    assert path.stat().st_size < 3_000_000
    recs = embedded.qm9_paired(limit=200)
    assert len(recs) == 200
    cols = embedded.qm9_property_columns()
    assert len(cols) == 15 and cols[7] == "HOMO_LUMO_gap_au"
    for rec in recs:
        assert torch.equal(rec.z[rec.atom_is_node], rec.x[:, 0] + 1)
        src, dst = rec.atom_is_node.nonzero().view(-1)[rec.edge_index]
        d = (rec.pos[src] - rec.pos[dst]).norm(dim=1)
        assert bool(((d > 0.9) & (d < 2.3)).all())
        assert rec.y.shape == (1, 15) and 0 < rec.y[0, 7] < 1  # gap in Hartree
    with np.load(path) as f:
        assert len(f["smiles_h"]) >= 2000


def test_embedded_matches_qm9_source(tmp_path, shared_file):
    """The embedded records equal what the qm9 loader makes from the same rows."""
    import csv
    import lzma

    recs = embedded.qm9_paired(limit=10)  # stored in QM9 order: all within the first ~1000 rows
    wanted = {r.mol_id for r in recs}
    rows = []
    with lzma.open(shared_file("qm9/qm9pack_qm9_coords_props.csv.xz"), "rt") as f:
        reader = csv.DictReader(f)
        for r in reader:
            if r["XYZ_file"].removesuffix(".xyz") in wanted:
                rows.append(r)
                if len(rows) == len(wanted):
                    break
        header = reader.fieldnames
    path = tmp_path / "rows.csv"
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, header)
        w.writeheader()
        w.writerows(rows)
    ref = {r.mol_id: r for r in load_paired("qm9", path, workers=1)}
    for rec in recs:
        other = ref[rec.mol_id]
        order = [int(i) for i in np.lexsort(other.pos.numpy().T[::-1])]
        mine = [int(i) for i in np.lexsort(rec.pos.numpy().T[::-1])]
        assert torch.equal(rec.z[mine], other.z[order])
        assert torch.allclose(rec.pos[mine], other.pos[order], atol=1e-5)
        rows_ = lambda t: sorted(map(tuple, t.tolist()))  # noqa: E731
        assert rows_(rec.x) == rows_(other.x) and rows_(rec.edge_attr) == rows_(other.edge_attr)
        assert torch.allclose(rec.y, other.y)


def test_ogb_root_and_task_name():
    assert embedded.EMBEDDED_TASK == "ogbg-molesol"
    assert embedded.ogb_root().is_dir() and embedded.ogb_root().name == "embedded"


def test_chemprop_features_stored_compact_and_restored_exactly(tmp_path, small_sdf, monkeypatch):
    """cp_x / cp_edge_attr are cached as uint8 plus the mass column, and come back bit-identical
    to the featurizer's float32; caches written before (float32, no cp_mass) still load."""
    from dnd.data import cache
    from dnd.data.paired import make_data

    built = []
    collate = cache.collate
    monkeypatch.setattr(cache, "collate", lambda recs: built.extend(recs) or collate(recs))
    load_paired("sdf", small_sdf, cache_dir=tmp_path / "c", limit=40, workers=1)
    monkeypatch.undo()
    again = load_paired("sdf", small_sdf, cache_dir=tmp_path / "c", limit=40, workers=1)
    assert len(built) == len(again) > 30
    for arrays, rec in zip(built, again):
        assert rec.cp_x.dtype == rec.cp_edge_attr.dtype == torch.float32
        assert np.array_equal(rec.cp_x.numpy(), arrays.cp_x)
        assert np.array_equal(rec.cp_edge_attr.numpy(), arrays.cp_edge_attr)
    assert any(len(np.unique(a.cp_x[:, -1])) > 1 for a in built)  # masses really vary

    (path,) = (tmp_path / "c").glob("*.pt")
    stored = torch.load(path, weights_only=True)["data"]
    assert stored["cp_x"].dtype == stored["cp_edge_attr"].dtype == torch.uint8
    # the one graph format of every cache (the task cache's too): narrow on disk, int64 in memory
    assert stored["x"].dtype == stored["edge_attr"].dtype == torch.uint8 and stored["edge_index"].dtype == torch.int32
    assert all(r.x.dtype == r.edge_index.dtype == r.edge_attr.dtype == torch.long for r in again)
    mass = stored.pop("cp_mass")
    old = dict(stored, cp_x=torch.cat([stored["cp_x"].float(), mass[:, None]], 1),
               cp_edge_attr=stored["cp_edge_attr"].float())
    for rec, prev in zip(cache.uncollate(old, make_data), again):
        assert torch.equal(rec.cp_x, prev.cp_x) and torch.equal(rec.cp_edge_attr, prev.cp_edge_attr)


def test_task_cache_stores_chemprop_features_compact_and_restores_them(tmp_path):
    from dnd.data.tasks import load_task

    built = load_task("ogbg-molesol")
    load_task("ogbg-molesol", cache_dir=tmp_path)
    again = load_task("ogbg-molesol", cache_dir=tmp_path)
    (path,) = tmp_path.glob("*.pt")
    stored = torch.load(path, weights_only=True)["data"]
    assert stored["cp_x"].dtype == stored["x"].dtype == torch.uint8 and stored["edge_index"].dtype == torch.int32
    for a, b in zip(built.train + built.valid + built.test, again.train + again.valid + again.test):
        assert b.cp_x.dtype == b.cp_edge_attr.dtype == torch.float32
        assert torch.equal(a.cp_x, b.cp_x) and torch.equal(a.cp_edge_attr, b.cp_edge_attr)

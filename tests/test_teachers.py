"""The chemistry-aware teachers (ANI-2x, GFN2-xTB), their controls, and the chunked feature
cache: features tied to torchani's own energy, physical sanity of xTB, invariance to rotation,
exact atom correspondence between teacher rows and graph nodes, and reported (never guessed)
failures."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from rdkit import Chem
from rdkit.Chem import AllChem

from conformers import paired_record, paired_records, random_rotation
from dnd.data.corpus import load_corpus
from dnd.data.config import CorpusConfig
from dnd.teachers import build_teacher
from dnd.teachers.base import FeatureTeacher, TeacherOutput, TeacherSpec, formal_charge
from dnd.teachers.cache import (FeatureCache, TargetNorm, assemble, build_chunks, chunk_address,
                              ensure_features, feature_folder)


@pytest.fixture(scope="module")
def ani_dir(request):
    from pathlib import Path
    d = Path(request.config.getoption("--shared-data")).parent / "models" / "ani2x"
    if not (d / "Neurochem").is_dir():
        pytest.skip(f"ANI-2x parameters not present: {d}")
    return str(d)


def _ani(ani_dir, **kw):
    from dnd.teachers.ani2x import ANI2xTeacher
    return ANI2xTeacher(TeacherSpec("ani2x", **kw), ani_dir)


# ---------------------------------------------------------------- ANI-2x

def test_ani_features_reproduce_torchani_energy(ani_dir):
    """Final layer of each element's network on the extracted features, summed, plus torchani's
    self energies equals torchani's own energy of the molecule."""
    teacher = _ani(ani_dir)
    r = paired_record("CC(=O)Nc1ccc(O)cc1Cl")  # H C N O Cl
    feats = torch.from_numpy(teacher.compute([r])[0].atom).double()
    species = teacher.model.species_converter(r.z.view(1, -1))[0]
    member = teacher.members[0]
    energy = 0.0
    for idx, symbol in enumerate(member.atomics):
        rows = species == idx
        net = member.atomics[symbol]
        energy += net.final_layer(feats[rows, :net.final_layer.in_features]).sum()
    energy += teacher.model.energy_shifter(species.view(1, -1)).sum()
    expected = teacher.model((r.z.view(1, -1), r.pos.view(1, -1, 3).double())).energies.item()
    assert energy.item() == pytest.approx(expected, abs=2e-4)  # Ha; float32 features
    # padding: an N/O/Cl atom's features beyond its network's width are exactly zero
    heavy_o = (r.z == 8).nonzero()[0].item()
    assert torch.all(feats[heavy_o, 128:] == 0) and torch.any(feats[heavy_o, :128] != 0)


def test_ani_rotation_invariant_and_uncovered_element_reported(ani_dir):
    teacher = _ani(ani_dir)
    r = paired_record("c1ccccc1O")
    rot = r.clone()
    rot.pos = r.pos @ random_rotation(torch.Generator().manual_seed(0), torch.float32).T + 3.0
    a, b = (teacher.compute([x])[0].atom for x in (r, rot))
    np.testing.assert_allclose(a, b, atol=1e-4)
    bromo = teacher.compute([paired_record("CCBr")])[0]
    assert bromo.atom is None and "Z=35" in bromo.error and "ANI-2x" in bromo.error


def test_ani_control_is_reinitialised_and_named_apart(ani_dir):
    teacher, control = _ani(ani_dir), _ani(ani_dir, control=True)
    r = paired_record("CCO")
    a, b = teacher.compute([r])[0].atom, control.compute([r])[0].atom
    assert a.shape == b.shape and not np.allclose(a, b)
    assert teacher.fingerprint() != control.fingerprint()
    np.testing.assert_array_equal(b, _ani(ani_dir, control=True).compute([r])[0].atom)  # seeded


def test_ani_bad_options_are_usage_errors(ani_dir):
    from dnd.errors import UsageError
    with pytest.raises(UsageError, match="ani2x-member"):
        _ani(ani_dir, member=8)
    with pytest.raises(UsageError, match="ani2x-layer"):
        _ani(ani_dir, layer=3)


# ---------------------------------------------------------------- GFN2-xTB

def _xtb():
    from dnd.teachers.xtb import XTBTeacher
    return XTBTeacher(TeacherSpec("xtb"))


def test_xtb_charges_sum_to_total_charge_and_polar_molecule_solvates():
    from dnd.teachers.xtb import ATOM_FEATURES, MOL_TARGETS
    teacher = _xtb()
    q, qw, dg = ATOM_FEATURES.index("charge"), ATOM_FEATURES.index("charge_water"), MOL_TARGETS.index("dg_water")
    for smiles, total in (("CC(=O)O", 0), ("CC(=O)[O-]", -1), ("C[NH3+]", 1)):
        r = paired_record(smiles)
        assert formal_charge(r) == total
        out = teacher.compute([r])[0]
        assert out.error is None
        assert out.atom[:, q].sum() == pytest.approx(total, abs=1e-4)
        assert out.atom[:, qw].sum() == pytest.approx(total, abs=1e-4)
        assert out.mol[dg] < 0  # polar and ionic molecules are stabilised by water
    # the heavy atom's group charge includes its hydrogens: the group charges of a neutral
    # molecule's heavy atoms sum to zero
    r = paired_record("CCO")
    out = teacher.compute([r])[0]
    assert out.atom[r.atom_is_node.numpy(), ATOM_FEATURES.index("group_charge")].sum() == pytest.approx(0, abs=1e-4)


def test_xtb_features_invariant_to_rotation():
    teacher = _xtb()
    r = paired_record("NC(=O)CO")
    rot = r.clone()
    rot.pos = r.pos @ random_rotation(torch.Generator().manual_seed(1), torch.float32).T - 2.0
    a, b = teacher.compute([r])[0], teacher.compute([rot])[0]
    np.testing.assert_allclose(a.atom, b.atom, atol=2e-4)
    # ALPB's solvent-accessible surface is integrated on a fixed angular grid, which is not exactly
    # rotation-invariant: 0.01 kcal/mol on octanol solvation here, against |dG| ~ 10
    np.testing.assert_allclose(a.mol, b.mol, atol=0.02)


def test_xtb_scf_failure_is_a_reported_row(monkeypatch):
    from tblite.exceptions import TBLiteRuntimeError

    import dnd.teachers.xtb as xtb

    def failing(*args, **kwargs):
        raise TBLiteRuntimeError("SCF not converged in 250 cycles")

    monkeypatch.setattr(xtb, "_calculator", failing)
    out = _xtb().compute([paired_record("CCO")])[0]
    assert out.atom is None and "SCF failed" in out.error and "250 cycles" in out.error


# ---------------------------------------------------------------- cache, correspondence, controls

class IndexTeacher(FeatureTeacher):
    """Atom features [atomic number, conformer index, molecule tag]; molecule target [n atoms]:
    makes every correspondence checkable exactly. Fails molecules with fluorine."""

    kind = "index"
    atom_dim, mol_dim = 3, 1
    calls = 0

    def identity(self) -> dict:
        return {"kind": self.kind}

    def compute(self, records):
        IndexTeacher.calls += len(records)
        outs = []
        for r in records:
            if (r.z == 9).any():
                outs.append(TeacherOutput(None, None, "fluorine not supported"))
                continue
            n = r.z.numel()
            atom = np.stack([r.z.numpy(), np.arange(n), np.full(n, float(r.pos[0, 0]))], 1).astype(np.float32)
            outs.append(TeacherOutput(atom, np.array([n], dtype=np.float32)))
        return outs

    @property
    def permutes_targets(self) -> bool:
        return True


def _sdf_with_interleaved_h(tmp_path) -> str:
    """An SDF whose hydrogens sit between heavy atoms (not appended), as other tools write them."""
    path = tmp_path / "mixed.sdf"
    w = Chem.SDWriter(str(path))
    for i, smi in enumerate(["CCO", "c1ccncc1", "CC(=O)NC", "OCC(N)C(=O)O"]):
        mol = Chem.AddHs(Chem.MolFromSmiles(smi))
        AllChem.EmbedMolecule(mol, randomSeed=i)
        order = list(np.random.default_rng(i).permutation(mol.GetNumAtoms()))
        w.write(Chem.RenumberAtoms(mol, [int(k) for k in order]))
    w.close()
    return str(path)


def test_teacher_rows_follow_graph_nodes_on_sdf_with_hydrogens(tmp_path):
    records = load_corpus(CorpusConfig(source="sdf", path=_sdf_with_interleaved_h(tmp_path),
                                       cache_dir=str(tmp_path / "rc")))
    assert len(records) == 4 and all(bool((r.z == 1).any()) for r in records)
    cache = ensure_features(IndexTeacher(TeacherSpec("index")), records, tmp_path / "f", chunk_size=3,
                            log=lambda m: None)
    for i, r in enumerate(records):
        node = cache.node(i).numpy()
        # the row of graph node v is the conformer atom marked as node v: its element and position
        np.testing.assert_array_equal(node[:, 0], r.x[:, 0].numpy() + 1)
        np.testing.assert_array_equal(node[:, 1], np.flatnonzero(r.atom_is_node.numpy()))
        assert cache.pooled(i)[0, 1].item() == pytest.approx((r.z.numel() - 1) / 2)  # mean over ALL atoms
        assert cache.mol(i).item() == r.z.numel()


def test_chunks_resume_and_shards_assemble_to_the_same_cache(tmp_path):
    records = paired_records(7)
    teacher = IndexTeacher(TeacherSpec("index"))
    folder = feature_folder(tmp_path, teacher, records)
    IndexTeacher.calls = 0
    assert build_chunks(teacher, records, folder, (1, 2), chunk_size=2, log=lambda m: None) == 2
    assert build_chunks(teacher, records, folder, (0, 2), chunk_size=2, log=lambda m: None) == 2
    assert build_chunks(teacher, records, folder, (0, 1), chunk_size=2, log=lambda m: None) == 0  # all done
    assert IndexTeacher.calls == 7
    chunk_address(teacher, records[2:4], folder)[1].write_bytes(b"damaged")
    assert build_chunks(teacher, records, folder, (0, 1), chunk_size=2, log=lambda m: None) == 1
    sharded = FeatureCache(assemble(teacher, records, folder, chunk_size=2, log=lambda m: None))
    whole = ensure_features(teacher, records, tmp_path / "whole", chunk_size=7, log=lambda m: None)
    for name in ("node", "pooled", "mol"):
        np.testing.assert_array_equal(sharded.array(name), whole.array(name))
    # the fluorine molecule (FC(F)F, record 8) is not in the first 7; the failure case:
    failing = paired_records(9)
    cache = ensure_features(teacher, failing, tmp_path / "fail", chunk_size=4, log=lambda m: None)
    assert cache.ok.tolist() == [True] * 8 + [False]
    assert cache.meta["failed"] == {"8": "fluorine not supported"}


def test_a_prefix_corpus_reuses_the_chunks_of_a_larger_one(tmp_path):
    """`--limit 12000` of a 100k pass: its chunks are the pass's first 24, computed once."""
    records = paired_records(9)
    teacher = IndexTeacher(TeacherSpec("index"))
    whole = ensure_features(teacher, records, tmp_path, chunk_size=2, log=lambda m: None)
    IndexTeacher.calls = 0
    prefix = ensure_features(teacher, records[:6], tmp_path, chunk_size=2, log=lambda m: None)
    assert IndexTeacher.calls == 0 and prefix.path.parent != whole.path.parent
    np.testing.assert_array_equal(prefix.array("node"), whole.array("node")[:prefix.offsets[-1]])
    np.testing.assert_array_equal(prefix.array("mol"), whole.array("mol")[:6])
    # a corpus that shares records but not chunk boundaries computes its own chunks
    ensure_features(teacher, records[1:5], tmp_path, chunk_size=2, log=lambda m: None)
    assert IndexTeacher.calls == 4


def test_permuted_control_keeps_per_element_values_and_breaks_the_molecule_link(tmp_path):
    records = paired_records(8)
    teacher = IndexTeacher(TeacherSpec("index"))
    control = IndexTeacher(TeacherSpec("index", control=True, seed=3))
    real = ensure_features(teacher, records, tmp_path, log=lambda m: None)
    perm = ensure_features(control, records, tmp_path, log=lambda m: None)
    assert perm.path != real.path and perm.path.parent == real.path.parent  # chunks shared
    real_node, perm_node = np.asarray(real.array("node")), np.asarray(perm.array("node"))
    np.testing.assert_array_equal(perm_node[:, 0], real_node[:, 0])  # each row keeps its element
    for e in np.unique(real_node[:, 0]):  # same values per element, shuffled
        rows = real_node[:, 0] == e
        assert sorted(map(tuple, perm_node[rows])) == sorted(map(tuple, real_node[rows]))
    assert not np.array_equal(perm_node[:, 2], real_node[:, 2])
    assert sorted(np.asarray(perm.array("mol")).ravel()) == sorted(np.asarray(real.array("mol")).ravel())


def test_element_norm_centres_each_element_on_the_training_molecules(tmp_path):
    records = paired_records(10)
    cache = ensure_features(IndexTeacher(TeacherSpec("index")), records, tmp_path, log=lambda m: None)
    train = [0, 1, 2, 3, 4, 5]
    norm = TargetNorm("element", cache, records, train)
    rows = [norm.node(cache.node(i), records[i].z[records[i].atom_is_node]) for i in train]
    z = torch.cat([records[i].z[records[i].atom_is_node] for i in train])
    allrows = torch.cat(rows)
    for e in z.unique():
        assert allrows[z == e].mean(0).abs().max() < 1e-5
    assert allrows[:, 0].abs().max() == 0  # the element column is fully explained by the element
    assert 0 < norm.summary()["element_explained_fraction"] < 1
    mol = torch.cat([norm.mol(cache.mol(i)) for i in train])
    assert mol.mean().abs() < 1e-5 and mol.std(unbiased=False) == pytest.approx(1, abs=1e-5)


# ---------------------------------------------------------------- command line

@pytest.mark.parametrize("argv, message", [
    (["distill", "--teacher", "ani2x", "--ani2x-member", "best", "--out", "o"], "--ani2x-member 'best'"),
    (["teacher-features", "--teacher", "xtb"], "--feature-cache DIR is required"),
    (["teacher-features", "--teacher", "some.ckpt", "--feature-cache", "f"], "some.ckpt: checkpoint file not found"),
    (["teacher-features", "--teacher", "xtb", "--feature-cache", "f", "--shard", "3/2"], "need 0 <= I < N"),
])
def test_teacher_options_fail_with_one_line(argv, message, capsys, tmp_path, monkeypatch):
    from dnd.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_denoised_teacher_scales_cached_targets_only(tmp_path, capsys):
    """Target scaling is fitted on cached features: a live denoiser refuses it with one line, a
    cached one (the same features through the teachers' cache) applies it."""
    from pretrain_helpers import write_teacher_ckpt

    from dnd.cli import main

    ckpt = write_teacher_ckpt(tmp_path / "t.ckpt")
    common = ["distill", "--teacher", str(ckpt), "--target-norm", "element", "--limit", "20", "--max-epochs", "1",
              "--no-progress", "--preset", "tiny", "--batch-size", "8"]
    assert main(common + ["--out", str(tmp_path / "live")]) == 2
    assert "--target-norm element" in capsys.readouterr().err
    assert main(common + ["--cached", "--out", str(tmp_path / "cached")]) == 0
    assert json.loads((tmp_path / "cached" / "target_norm.json").read_text())["mode"] == "element"


def test_teacher_features_of_a_denoiser_are_the_networks_own(tmp_path):
    """`dnd teacher-features --teacher CKPT` fills the cache distillation reads, with the frozen
    network's per-atom features of each molecule alone; its control is another network."""
    from pretrain_helpers import records as helper_records, write_teacher_ckpt

    from dnd.cli import main
    from dnd.data.loader import make_loader
    from dnd.models.teacher import load_teacher

    ckpt = write_teacher_ckpt(tmp_path / "t.ckpt")
    recs = helper_records()[:6]
    teacher = build_teacher(TeacherSpec(str(ckpt)), batch_size=4)
    cache = ensure_features(teacher, recs, tmp_path / "f", chunk_size=4, log=lambda m: None)
    net = load_teacher(ckpt)
    for i, r in enumerate(recs):
        alone = net.encode(next(iter(make_loader([r], 1))))
        torch.testing.assert_close(cache.node(i), alone[r.atom_is_node], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(cache.pooled(i), alone.mean(0, keepdim=True), rtol=1e-5, atol=1e-6)
    control = build_teacher(TeacherSpec(str(ckpt), control=True))
    assert control.fingerprint() != teacher.fingerprint()
    assert main(["teacher-features", "--teacher", str(ckpt), "--limit", "12", "--feature-cache", str(tmp_path / "g"),
                 "--chunk-size", "5"]) == 0
    assert len(list((tmp_path / "g" / "chunks").glob("denoised-*.pt"))) == 3


def test_missing_ani_parameters_are_one_clear_line(monkeypatch, tmp_path, capsys):
    """Where the parameters are absent torchani downloads them; offline that fails, and the user
    gets one line naming --ani2x-dir, not urllib's traceback."""
    import urllib.error

    import torchani.neurochem

    from dnd.cli import main

    def offline(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(torchani.neurochem, "load_model_from_name", offline)
    assert main(["teacher-features", "--teacher", "ani2x", "--ani2x-dir", str(tmp_path), "--limit", "3",
                 "--feature-cache", str(tmp_path / "f")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--ani2x-dir" in err[0] and str(tmp_path) in err[0]


def test_denoiser_control_is_the_runs_own_initialisation(tmp_path):
    """`--control` of a denoiser is an untrained TorchMD-NET seeded like `dnd denoise`: with the
    run's seed it is exactly the weights that run starts from (the reference of "distance from init");
    another seed gives other weights."""
    from pretrain_helpers import write_teacher_ckpt

    from dnd.models.teacher import load_teacher

    untrained = write_teacher_ckpt(tmp_path / "seed3.ckpt", seed=3)  # the weights a seed-3 run starts from
    want = load_teacher(untrained).state_dict()
    same = build_teacher(TeacherSpec(str(untrained), control=True, seed=3)).network().state_dict()
    other = build_teacher(TeacherSpec(str(untrained), control=True, seed=4)).network().state_dict()
    assert all(torch.equal(same[k], want[k]) for k in want)
    assert not all(torch.equal(other[k], want[k]) for k in want)

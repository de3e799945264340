"""The D-MPNN student: exactly chemprop's model on exactly chemprop's features, its per-atom
states aligned with the teacher's heavy atoms on real records of every 3D source, distillation,
finetuning and prediction through it, and the export that `chemprop train --from-foundation`
starts from."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from rdkit import Chem
from torch_geometric.data import Batch

from dnd.data.featurize import smiles_to_graph
from dnd.data.corpus import load_paired
from dnd.models.dmpnn import reverse_edges
from dnd.models.readout import Readout
from dnd.models.checkpoint import load_encoder
from dnd.models.registry import build_encoder, encoder_preset
from encoder_graphs import ESOL_SMILES
from pretrain_helpers import fast_settings, records, write_teacher_ckpt  # noqa: F401 (fixture)

V2_ATOMIC_NUMS = list(range(1, 37)) + [53]
N_Z = len(V2_ATOMIC_NUMS) + 1           # + "other"
H_BLOCK = N_Z + 7 + 6 + 5               # after atomic number, degree, formal charge, chiral tag
ODD = ["[Na+].[Cl-]", "C[N+](C)(C)C", "CC(=O)[O-]", "C", "[2H]C([2H])([2H])O", "F/C=C/F",
       "C[C@H](N)C(=O)O", "c1ccc2[nH]ccc2c1", "CS(=O)(=O)[O-].[Na+]", "ICBr"]


def chemprop_reference(smiles: list[str]):
    from chemprop.data import BatchMolGraph
    from chemprop.featurizers import MultiHotAtomFeaturizer, SimpleMoleculeMolGraphFeaturizer
    featurizer = SimpleMoleculeMolGraphFeaturizer(atom_featurizer=MultiHotAtomFeaturizer.v2())
    return BatchMolGraph([featurizer(Chem.MolFromSmiles(s)) for s in smiles])


@pytest.fixture(scope="module")
def esol_smiles(request):
    path = Path(request.config.getoption("--shared-data")) / ESOL_SMILES
    if not path.exists():
        pytest.skip(f"real dataset file not present: {path}")
    with gzip.open(path, "rt") as f:
        return pd.read_csv(f)["smiles"].str.strip().tolist()[:60]


def test_dmpnn_is_chemprop_on_chemprops_own_batch(esol_smiles):
    torch.manual_seed(0)
    smiles = esol_smiles + ODD
    enc = build_encoder("dmpnn", encoder_preset("dmpnn", "chemprop")).eval()
    ours = enc(Batch.from_data_list([smiles_to_graph(s) for s in smiles])).node
    ref = chemprop_reference(smiles)
    assert torch.equal(ours, enc.message_passing(ref))  # same features, same edges, same module
    assert enc.message_passing.hparams["d_h"] == 300 and enc.message_passing.depth == 3


def test_reverse_edges_requires_bond_pairs():
    g = smiles_to_graph("CCO")
    assert reverse_edges(g.edge_index).tolist() == [1, 0, 3, 2]
    with pytest.raises(ValueError, match="reordered"):
        reverse_edges(g.edge_index[:, [0, 2, 1, 3]])
    b = Batch.from_data_list([smiles_to_graph("CCO")])
    del b.cp_x
    with pytest.raises(ValueError, match="chemprop features"):
        build_encoder("dmpnn", encoder_preset("dmpnn", "tiny"))(b)


def test_norm_readout_is_chemprops_aggregation(esol_smiles):
    from chemprop.nn import NormAggregation
    enc = build_encoder("dmpnn", encoder_preset("dmpnn", "tiny")).eval()
    b = Batch.from_data_list([smiles_to_graph(s) for s in esol_smiles[:8]])
    out = enc(b)
    torch.testing.assert_close(Readout("norm")(out, b), NormAggregation()(out.node, b.batch))
    with pytest.raises(ValueError, match="virtual node"):
        Readout("vn")(out, b)


def test_layer_groups_cover_every_parameter_once():
    enc = build_encoder("dmpnn", encoder_preset("dmpnn", "chemprop"))
    flat = [id(p) for g in enc.layer_groups() for p in g]
    assert len(flat) == len(set(flat)) == len(list(enc.parameters()))


# ------------------------------------------------------------------ atom correspondence, real data

def _check_alignment(rec) -> None:
    """Node i of the D-MPNN's input is conformer atom `atom_is_node`[i]: same element, the same
    number of conformer hydrogens nearest to it, and every graph bond a bond-length
    distance apart in the conformer."""
    heavy = torch.nonzero(rec.atom_is_node).view(-1)
    assert len(heavy) == rec.cp_x.shape[0] == rec.num_nodes
    z_idx = rec.cp_x[:, :N_Z].argmax(1)
    z_from_cp = torch.tensor([V2_ATOMIC_NUMS[i] if i < len(V2_ATOMIC_NUMS) else -1 for i in z_idx])
    assert torch.equal(z_from_cp, rec.z[heavy])
    pos = rec.pos.double()
    hydrogens = torch.nonzero((rec.z == 1) & ~rec.atom_is_node).view(-1)
    if len(hydrogens):
        nearest = torch.cdist(pos[hydrogens], pos[heavy]).argmin(1)  # each H to its heavy atom
        bonded_h = torch.bincount(nearest, minlength=len(heavy))
        n_h_cp = rec.cp_x[:, H_BLOCK:H_BLOCK + 6].argmax(1)  # 0..4 H, 5 = "more"
        assert torch.equal(torch.clamp(bonded_h, max=5), n_h_cp)
    if rec.edge_index.numel():
        a, b = heavy[rec.edge_index[0]], heavy[rec.edge_index[1]]
        assert (pos[a] - pos[b]).norm(dim=1).max() < 2.0


def _check_student_rows(recs, teacher_ckpt) -> None:
    from dnd.data.loader import make_loader
    from dnd.models.teacher import load_teacher
    teacher = load_teacher(teacher_ckpt)
    student = build_encoder("dmpnn", encoder_preset("dmpnn", "tiny")).eval()
    batch = next(iter(make_loader(recs, len(recs))))
    with torch.no_grad():
        t = teacher.encode(batch)[batch.atom_is_node]
        s = student.encode(batch)
    assert t.shape[0] == s.shape[0] == int(batch.atom_is_node.sum())


def _with_charge(recs) -> bool:
    return any(bool((r.cp_x[:, N_Z + 7:N_Z + 7 + 4].sum(1) > 0).any()) for r in recs)  # -1,-2,+1,+2


@pytest.fixture(scope="module")
def teacher_ckpt_module(tmp_path_factory):
    return write_teacher_ckpt(tmp_path_factory.mktemp("teacher") / "t.ckpt")


@pytest.mark.parametrize("source,rel,limit", [
    ("qm9", "qm9/qm9pack_qm9_coords_props.csv.xz", 400),
    ("sdf", "qm9/gdb1k.sdf.gz", None),
    ("pcqm4mv2", "pcqm4mv2/pcqm4mv2-2k.csv.gz", 300),
])
def test_dmpnn_atoms_line_up_with_teacher_atoms_on_real_records(source, rel, limit, shared_file,
                                                                 teacher_ckpt_module):
    # gdb1k includes the records whose SDF keeps a stereo-defining hydrogen through RemoveHs
    recs = load_paired(source, shared_file(rel), limit=limit, workers=1)
    assert len(recs) > 100
    for rec in recs:
        _check_alignment(rec)
    if source == "qm9":
        assert _with_charge(recs)  # QM9's zwitterions
    _check_student_rows(recs[:40], teacher_ckpt_module)


def test_dmpnn_atoms_line_up_on_generated_conformers_with_salts_and_charges(tmp_path,
                                                                           teacher_ckpt_module):
    smiles = ["CC(=O)[O-].[Na+]", "C[N+](C)(C)CCO", "OC(=O)c1ccccc1N", "CS(=O)(=O)[O-].[K+]",
              "Clc1ccc(Br)cc1", "F/C=C/C(=O)[O-].[NH4+]"]
    path = tmp_path / "mols.csv"
    path.write_text("smiles\n" + "\n".join(smiles) + "\n")
    recs = load_paired("smiles", path, workers=1)
    assert len(recs) == len(smiles) and _with_charge(recs)
    for rec in recs:
        _check_alignment(rec)
        assert "." not in rec.smiles  # the largest fragment only
    _check_student_rows(recs, teacher_ckpt_module)


def test_largest_fragment_kept_and_fragments_no_longer_overlap(tmp_path):
    path = tmp_path / "salt.csv"
    path.write_text("smiles\nCCCCCC(=O)[O-].[Na+]\nc1ccccc1.O.O\n")
    kept = load_paired("smiles", path, workers=1)
    assert [r.smiles for r in kept] == ["CCCCCC(=O)[O-]", "c1ccccc1"]
    assert [int(r.num_nodes) for r in kept] == [8, 6]
    from dnd.data.report import Report
    report = Report()
    whole = load_paired("smiles", path, workers=1, largest_fragment=False, report=report)
    assert [int(r.num_nodes) for r in whole] == [9]
    # embedded whole, the two waters land on the same spot: the record is rejected
    assert report.n_bad == 1 and "Å apart" in str(report.entries[0])
    for rec in kept:  # one connected molecule: every heavy atom within bonding reach of another
        d = torch.cdist(rec.pos.double(), rec.pos.double())
        d.fill_diagonal_(9.0)
        assert d.min() > 0.8


# ------------------------------------------------------------------ distillation and finetuning

@pytest.mark.parametrize("variant", ["node", "graph"])
def test_distill_into_dmpnn_lowers_the_loss(variant, tmp_path):
    import pandas as pd
    from dnd.training.config import DistillRunConfig, OptimConfig, StudentSpec
    from dnd.training.distill import run_distill
    teacher = write_teacher_ckpt(tmp_path / "t.ckpt")
    settings = fast_settings(epochs=10)
    settings["student"] = StudentSpec("dmpnn", "tiny", {})
    settings["optim"] = OptimConfig(lr=1e-2, warmup_steps=0)
    from dnd.objectives.config import DistillObjective
    cfg = DistillRunConfig(**settings, objective=DistillObjective(variant=variant), cached=True)
    ckpt = run_distill(cfg, records(), teacher, tmp_path / "run")
    log = pd.read_csv(tmp_path / "run" / "logs" / "metrics.csv")
    train = log.dropna(subset=["train/loss_epoch"])["train/loss_epoch"].tolist()
    assert train[-1] < 0.8 * train[0]
    assert load_encoder(ckpt).name == "dmpnn"


def test_finetune_and_predict_with_dmpnn(tmp_path):
    from dnd.models.property import load_property_model, predict_records
    from finetune_fixtures import regression_task, train_tiny
    task = regression_task()
    result = train_tiny(tmp_path, task, epochs=3, encoder="dmpnn", readout="norm")
    model = load_property_model(result["checkpoint"])
    preds = predict_records(model, task.test)
    assert preds.shape == (len(task.test), 1) and np.isfinite(preds).all()


# ------------------------------------------------------------------ export to chemprop

def _tiny_student(tmp_path, name="dmpnn") -> Path:
    torch.manual_seed(1)
    enc = build_encoder(name, encoder_preset(name, "tiny"))
    from dnd.models.registry import encoder_config_dict
    enc_name, config = encoder_config_dict(enc)
    path = tmp_path / f"{name}.ckpt"
    torch.save({"state_dict": {f"student.{k}": v for k, v in enc.state_dict().items()},
                "hyper_parameters": {"encoder_name": enc_name, "encoder_config": config}}, path)
    return path


def _dnd(*args):
    from dnd.cli import main
    return main(list(args))


def test_export_refuses_other_students_and_folders(tmp_path, capsys):
    assert _dnd("export", "chemprop", str(_tiny_student(tmp_path, "tokengt")),
                "--out", str(tmp_path / "x.pt")) == 2
    assert "only D-MPNN students" in capsys.readouterr().err
    assert _dnd("export", "chemprop", str(_tiny_student(tmp_path)), "--out", str(tmp_path)) == 2
    assert "is a folder" in capsys.readouterr().err
    assert _dnd("export", "chemprop", "dnd:no-such-model", "--out", str(tmp_path / "y.pt")) == 2
    assert "no shipped model" in capsys.readouterr().err
    assert not (tmp_path / "x.pt").exists() and not (tmp_path / "y.pt").exists()


def test_chemprop_train_from_foundation_starts_from_our_weights(tmp_path, esol_smiles):
    chemprop = shutil.which("chemprop", path=str(Path(sys.executable).parent))
    if chemprop is None:
        pytest.skip("chemprop's command line is not installed beside this Python")
    student = _tiny_student(tmp_path)
    fm = tmp_path / "fm.pt"
    assert _dnd("export", "chemprop", str(student), "--out", str(fm)) == 0
    data = tmp_path / "train.csv"
    rng = np.random.default_rng(0)
    pd.DataFrame({"smiles": esol_smiles[:40], "y": rng.normal(size=40)}).to_csv(data, index=False)
    # a learning rate of 1e-30 leaves float32 weights bit-identical after one epoch, so the model
    # chemprop saves is the model it started from
    done = subprocess.run([chemprop, "train", "-i", str(data), "-s", "smiles", "--target-columns", "y",
                           "--from-foundation", str(fm), "--epochs", "1", "--warmup-epochs", "0",
                           "--init-lr", "1e-30", "--max-lr", "1e-30", "--final-lr", "1e-30",
                           "-o", str(tmp_path / "cp"), "--num-workers", "0"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    saved = torch.load(tmp_path / "cp" / "model_0" / "best.pt", weights_only=False)
    mp = {k[len("message_passing."):]: v for k, v in saved["state_dict"].items()
          if k.startswith("message_passing.")}
    ours = load_encoder(student).message_passing.state_dict()
    assert sorted(mp) == sorted(ours)
    for k in ours:
        assert torch.equal(mp[k], ours[k]), k
    from chemprop.models import MPNN
    assert type(MPNN.load_from_file(tmp_path / "cp" / "model_0" / "best.pt").agg).__name__ == "NormAggregation"
    fresh = build_encoder("dmpnn", encoder_preset("dmpnn", "tiny")).message_passing.state_dict()
    assert not torch.equal(fresh["W_i.weight"], mp["W_i.weight"])  # not chemprop's own init

"""`dnd attention --molecules N` averages over N seeded random held-out molecules of the corpus,
the students' validation split as `dnd run` takes it, not the file's first (smallest) N."""

import pandas as pd
import torch

import dnd.analysis.attention as attention
from dnd.cli import main
from dnd.data.embedded import qm9_paired
from dnd.data.corpus import split_records


def test_attention_command_takes_the_seeded_held_out_molecules(tmp_path, monkeypatch):
    seen = {}

    def fake_compare(students, records, out_png, out_csv=None):
        seen["students"], seen["records"] = students, records
        return pd.DataFrame({"student": list(students), "abs_r": 0.5})

    monkeypatch.setattr(attention, "compare_students", fake_compare)
    argv = ["attention", "--student", "R=random:tiny", "--molecules", "30", "--out", str(tmp_path / "a.png")]
    main(argv + ["--seed", "3"])
    records = qm9_paired()
    _, val = split_records(records, 0.05, 3)
    got = [r.mol_id for r in seen["records"]]
    assert got == [r.mol_id for r in val[:30]]
    assert got != [r.mol_id for r in records[:30]]
    # the smallest molecules are no sample of the corpus: the held-out set is not biased small
    sizes = torch.tensor([float(r.num_nodes) for r in seen["records"]])
    first = torch.tensor([float(r.num_nodes) for r in records[:30]])
    assert sizes.mean() > first.mean()
    main(argv + ["--seed", "4"])
    assert [r.mol_id for r in seen["records"]] != got          # the seed selects the set

"""benchmarks/vs_chemprop.py's few-label machinery without running chemprop: the paired training
subsets, resuming from an old runs.csv, the paired differences and their sign, Holm, and the
job loop with the training call replaced."""

import sys
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import vs_chemprop as vc  # noqa: E402


@dataclass
class _Task:
    spec: object
    train: list
    valid: list
    test: list


def _task(n_train=200, n_valid=20, n_test=30) -> _Task:
    def recs(split, n):
        return [SimpleNamespace(smiles=f"{split}{i}") for i in range(n)]
    return _Task(spec=object(), train=recs("tr", n_train), valid=recs("va", n_valid), test=recs("te", n_test))


@pytest.mark.parametrize("fraction", [0.1, 0.25])
def test_subset_paired_across_methods_different_across_seeds(fraction):
    a = vc.train_subset(200, fraction, seed=0)
    assert np.array_equal(a, vc.train_subset(200, fraction, seed=0))  # any method, same rows
    assert not np.array_equal(a, vc.train_subset(200, fraction, seed=1))
    assert len(a) == round(fraction * 200) and len(set(a)) == len(a)
    assert np.all(np.diff(a) > 0) and a.min() >= 0 and a.max() < 200  # split order, inside train


def test_subset_edge_sizes():
    assert np.array_equal(vc.train_subset(7, 1.0, seed=3), np.arange(7))  # the runs made before fractions
    assert len(vc.train_subset(10, 0.01, seed=0)) == 2
    with pytest.raises(ValueError):
        vc.train_subset(10, 0.0, seed=0)


def test_subset_task_cuts_train_only():
    task = _task()
    sub = vc.subset_task(task, 0.1, seed=4)
    keep = vc.train_subset(200, 0.1, seed=4)
    assert [r.smiles for r in sub.train] == [f"tr{i}" for i in keep]
    assert sub.valid is task.valid and sub.test is task.test and sub.spec is task.spec
    assert len(task.train) == 200  # the loaded task is not modified


def test_old_runs_csv_reads_as_full_labels(tmp_path):
    path = tmp_path / "runs.csv"
    path.write_text("task,method,seed,wall_s,rmse\nogbg-molesol,chemprop defaults,0,60.0,0.8\n")
    runs = vc.load_runs(path)
    assert runs.columns.tolist()[:4] == ["task", "method", "seed", "train_fraction"]
    assert runs.train_fraction.tolist() == [1.0]


def test_committed_runs_csv_loads_and_is_all_done():
    committed = Path(__file__).resolve().parents[1] / "results" / "vs-chemprop" / "runs.csv"
    runs = vc.load_runs(committed)
    assert len(runs) > 0 and runs.train_fraction.between(0, 1, inclusive="right").all()
    # one row per task, method, seed and fraction: a resumed benchmark never duplicates a run
    assert not runs.duplicated(["task", "method", "seed", "train_fraction"]).any()


def _fake_run(job):
    return {"task": job["task"], "method": job["method"], "seed": job["seed"],
            "train_fraction": job["fraction"], "n_train": 1, "wall_s": 0.0, "rmse": 1.0 + job["seed"]}


def test_resume_skips_old_rows_and_runs_each_fraction_with_its_seeds(tmp_path, monkeypatch):
    old = "".join(f"ogbg-molesol,chemprop defaults,{s},1.0,0.9\n" for s in (0, 1, 2))
    (tmp_path / "runs.csv").write_text("task,method,seed,wall_s,rmse\n" + old)
    calls = []
    monkeypatch.setattr(vc, "_run", lambda job: calls.append(job) or _fake_run(job))
    monkeypatch.setattr(vc, "ProcessPoolExecutor", lambda n: _Serial())
    argv = ["--data-root", "x", "--out", str(tmp_path), "--tasks", "ogbg-molesol",
            "--train-fractions", "0.1", "1.0", "--few-label-seeds", "0", "1", "3"]
    vc.main(argv)
    assert sorted((j["fraction"], j["seed"]) for j in calls) == [(0.1, 0), (0.1, 1), (0.1, 3)]
    runs = vc.load_runs(tmp_path / "runs.csv")
    assert len(runs) == 6 and sorted(runs.train_fraction.tolist()) == [0.1] * 3 + [1.0] * 3
    calls.clear()
    vc.main(argv)
    assert calls == []


class _Serial:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def map(self, fn, jobs):
        return map(fn, jobs)


def _runs(task, metric, table):
    return pd.DataFrame([{"task": task, "method": m, "seed": s, "train_fraction": 0.1, "wall_s": 1.0, metric: v}
                         for m, vals in table.items() for s, v in enumerate(vals)])


def test_paired_difference_sign_for_errors():
    runs = _runs("ogbg-molesol", "rmse", {vc.DEFAULTS: [1.0, 2.0, 3.0, 4.0],
                                          "chemprop + A foundation": [0.8, 2.1, 2.7, 3.6]})
    row = vc.summarise(runs).query("method == 'chemprop + A foundation'").iloc[0]
    diffs = np.array([0.2, -0.1, 0.3, 0.4])  # defaults - method: positive = lower error = better
    assert row.vs_defaults_mean == pytest.approx(diffs.mean())
    assert row.vs_defaults_std == pytest.approx(diffs.std(ddof=1))
    assert (row.vs_defaults_n, row.vs_defaults_won, row.vs_defaults_test) == (4, 3, "ttest_rel")
    from scipy.stats import ttest_1samp
    assert row.vs_defaults_p == pytest.approx(ttest_1samp(diffs, 0).pvalue)


def test_paired_difference_sign_for_rocauc_and_only_shared_seeds():
    method = pd.Series([0.70, 0.80, 0.75], index=[0, 1, 2])
    defaults = pd.Series([0.72, 0.70, 0.70, 0.99], index=[0, 1, 2, 9])  # seed 9 has no pair
    d = vc.paired_difference(method, defaults, "rocauc")
    assert d["mean"] == pytest.approx(np.mean([-0.02, 0.10, 0.05]))  # method - defaults
    assert (d["n"], d["won"]) == (3, 2)


def test_wilcoxon_from_six_seeds():
    d = vc.paired_difference(pd.Series(np.arange(6.0)), pd.Series(np.arange(6.0) + 1), "rmse")
    assert d["test"] == "wilcoxon" and d["won"] == 6 and d["p"] == pytest.approx(0.03125)


def test_control_pairing_and_order():
    runs = _runs("ogbg-molbace", "rocauc", {vc.DEFAULTS: [0.7, 0.7, 0.7],
                                            "chemprop + ctl foundation": [0.71, 0.69, 0.72],
                                            "chemprop + T foundation": [0.75, 0.74, 0.70]})
    controls = vc.parse_controls(["ctl=T"], [])
    assert controls == {"chemprop + T foundation": "chemprop + ctl foundation"}
    s = vc.summarise(runs, controls)
    assert s.method.tolist() == [vc.DEFAULTS, "chemprop + T foundation", "chemprop + ctl foundation",
                                 "paper Table 1: RandInit+VN (TokenGT, PCQM4Mv2)",
                                 "paper Table 1: D&D-GRAPH+VN (TokenGT, PCQM4Mv2)"]
    t = s.iloc[1]
    assert t.control == "chemprop + ctl foundation"
    assert t.vs_control_mean == pytest.approx(np.mean([0.04, 0.05, -0.02]))
    assert t.vs_control_won == 2 and np.isnan(s.iloc[2].vs_control_mean)


def test_holm_by_hand():
    # sorted 0.01, 0.02, 0.03, 0.04 (m = 4): 0.04, 0.06, 0.06 (kept monotone), 0.04 -> 0.06
    adj = vc.holm([0.03, 0.01, float("nan"), 0.04, 0.02])
    assert adj[1] == pytest.approx(0.04) and adj[4] == pytest.approx(0.06)
    assert adj[0] == pytest.approx(0.06) and adj[3] == pytest.approx(0.06) and np.isnan(adj[2])
    assert [a <= 0.05 for a in np.array(adj)[[0, 1, 3, 4]]] == [False, True, False, False]
    assert vc.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_markdown_states_tests_and_survivors(tmp_path):
    runs = _runs("ogbg-molesol", "rmse", {vc.DEFAULTS: [1.0, 1.1, 1.2, 1.3, 1.4, 1.5],
                                          "chemprop + A foundation": [0.5, 0.5, 0.6, 0.6, 0.7, 0.8]})
    s = vc.summarise(runs)
    md = vc.markdown(s)
    assert "wilcoxon" in md and "1 comparisons with a p-value" in md and "1 survive" in md
    assert vc.plot(s, {}, tmp_path) == [tmp_path / "ogbg-molesol.png"]

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
    monkeypatch.setattr(vc, "ProcessPoolExecutor", _Serial)
    argv = ["--data-root", "x", "--out", str(tmp_path), "--work", str(tmp_path / "work"), "--tasks", "ogbg-molesol",
            "--train-fractions", "0.1", "1.0", "--few-label-seeds", "0", "1", "3"]
    vc.main(argv)
    assert sorted((j["fraction"], j["seed"]) for j in calls) == [(0.1, 0), (0.1, 1), (0.1, 3)]
    runs = vc.load_runs(tmp_path / "runs.csv")
    assert len(runs) == 6 and sorted(runs.train_fraction.tolist()) == [0.1] * 3 + [1.0] * 3
    calls.clear()
    vc.main(argv)
    assert calls == []


def test_commands_sharing_out_keep_each_others_rows(tmp_path, monkeypatch):
    # one command per core on the same --out: while this one trains, the other finishes a run
    other = {"task": "ogbg-molfreesolv", "method": "chemprop defaults", "seed": 0, "train_fraction": 0.1,
             "n_train": 1, "wall_s": 0.0, "rmse": 2.0}

    def run(job):
        vc.append_run(tmp_path / "runs.csv", other)  # twice in all: kept once
        return _fake_run(job)

    monkeypatch.setattr(vc, "_run", run)
    monkeypatch.setattr(vc, "ProcessPoolExecutor", _Serial)
    vc.main(["--data-root", "x", "--out", str(tmp_path), "--work", str(tmp_path / "work"), "--tasks", "ogbg-molesol",
             "--train-fractions", "0.1", "--few-label-seeds", "0", "1"])
    runs = vc.load_runs(tmp_path / "runs.csv")
    assert sorted(zip(runs.task, runs.seed)) == [("ogbg-molesol", 0), ("ogbg-molesol", 1), ("ogbg-molfreesolv", 0)]
    assert not list(tmp_path.glob("*.tmp"))


def _append_many(path, method, n):
    for seed in range(n):
        vc.append_run(Path(path), {"task": "ogbg-molesol", "method": method, "seed": seed, "train_fraction": 0.1,
                                   "n_train": 1, "wall_s": 0.0, "rmse": 1.0})


def test_concurrent_appends_lose_no_row(tmp_path):
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_append_many, args=(tmp_path / "runs.csv", m, 25)) for m in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    runs = vc.load_runs(tmp_path / "runs.csv")
    assert sorted(runs.groupby("method").size().to_dict().items()) == [("a", 25), ("b", 25)]


class _Serial:
    """ProcessPoolExecutor's stand-in: same constructor, runs the jobs in this process."""

    def __init__(self, workers: int = 1, **pool_options):
        pass

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


def test_a_control_shared_by_two_teachers_is_listed_once():
    runs = _runs("ogbg-molbace", "rocauc", {vc.DEFAULTS: [0.7, 0.7, 0.7],
                                            "chemprop + A foundation": [0.75, 0.74, 0.70],
                                            "chemprop + ctl foundation": [0.71, 0.69, 0.72],
                                            "chemprop + B foundation": [0.72, 0.73, 0.71]})
    s = vc.summarise(runs, vc.parse_controls(["ctl=A", "ctl=B"], []))
    ours = [m for m in s.method if not m.startswith("paper")]
    assert ours == [vc.DEFAULTS, "chemprop + A foundation", "chemprop + ctl foundation",
                    "chemprop + B foundation"]
    b = s[s.method == "chemprop + B foundation"].iloc[0]
    assert b.control == "chemprop + ctl foundation"
    assert b.vs_control_mean == pytest.approx(np.mean([0.01, 0.04, -0.01]))


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


# --- finetuning recipes (issue 21 item 3) and the validation metric ---------------------------

def test_recipe_parses_real_chemprop_flags():
    recipes = vc.parse_recipes(['gentle=--max-lr 3e-4 --warmup-epochs 4', "bn=--batch-norm"])
    assert recipes == {"gentle": ["--max-lr", "3e-4", "--warmup-epochs", "4"], "bn": ["--batch-norm"]}


@pytest.mark.parametrize("spec", [
    "x=--max-learning-rate 3e-4",          # not a chemprop flag
    "x=--max-lr fast",                     # chemprop's parser refuses the value
    "x=--from-foundation other.pt",        # the benchmark's initialisation
    "x=--pytorch-seed 7",                  # the paired seed
    "x=--data-seed 7",
    "x=--splits-column fold",              # the split
    "x=-o elsewhere",                      # the output folder
    "x=--pytorch-s 7",                     # an abbreviation of a fixed flag is caught too
    "x=--max-lr 1e-3",                     # chemprop's default: not a recipe
    "x=3e-4",                              # no flag
    "=--max-lr 3e-4",                      # no name
    "a[b]=--max-lr 3e-4",                  # brackets are the label's recipe marker
    "no-equals-sign",
])
def test_recipe_refused(spec):
    with pytest.raises(ValueError):
        vc.parse_recipes([spec])


def test_recipe_name_given_twice_refused():
    with pytest.raises(ValueError):
        vc.parse_recipes(["a=--max-lr 3e-4", "a=--epochs 80"])


def test_plan_methods_labels_and_flags():
    recipes = {"gentle": ["--max-lr", "3e-4"], "bn": ["--batch-norm"]}
    plan = vc.plan_methods([("chemprop + xtb foundation", "/f.pt")], recipes)
    assert [(m, f, flags) for m, f, _, flags in plan] == [
        (vc.DEFAULTS, None, []),  # defaults exactly as chemprop ships them, never under a recipe
        ("chemprop + xtb foundation", "/f.pt", []),
        ("chemprop + xtb foundation [gentle]", "/f.pt", ["--max-lr", "3e-4"]),
        ("chemprop + xtb foundation [bn]", "/f.pt", ["--batch-norm"])]
    plan = vc.plan_methods([("chemprop + xtb foundation", "/f.pt")], recipes, recipe_defaults=True,
                           recipes_only=True)
    assert [m for m, *_ in plan] == [vc.DEFAULTS, "chemprop defaults [gentle]", "chemprop defaults [bn]",
                                     "chemprop + xtb foundation [gentle]", "chemprop + xtb foundation [bn]"]
    assert plan[1][1] is None and plan[1][3] == ["--max-lr", "3e-4"]
    # --recipes-only without recipes still runs the foundation
    assert [m for m, *_ in vc.plan_methods([("F", "/f.pt")], {}, recipes_only=True)] == [vc.DEFAULTS, "F"]


def test_controls_pair_under_each_recipe():
    controls = vc.parse_controls(["ctl=T"], [], ["gentle"])
    assert controls == {"chemprop + T foundation": "chemprop + ctl foundation",
                        "chemprop + T foundation [gentle]": "chemprop + ctl foundation [gentle]"}


def test_jobs_carry_recipe_flags_and_separate_folders(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(vc, "_run", lambda job: calls.append(job) or _fake_run(job))
    monkeypatch.setattr(vc, "ProcessPoolExecutor", _Serial)
    vc.main(["--data-root", "x", "--out", str(tmp_path), "--work", str(tmp_path / "w"),
             "--tasks", "ogbg-molesol", "--seeds", "0", "--foundation", f"xtb={tmp_path / 'f.pt'}",
             "--recipe", "gentle=--max-lr 3e-4 --warmup-epochs 4", "--recipe-defaults"])
    by_method = {j["method"]: j for j in calls}
    assert set(by_method) == {vc.DEFAULTS, "chemprop defaults [gentle]", "chemprop + xtb foundation",
                              "chemprop + xtb foundation [gentle]"}
    assert by_method[vc.DEFAULTS]["flags"] == [] and by_method[vc.DEFAULTS]["foundation"] is None
    assert by_method["chemprop + xtb foundation [gentle]"]["flags"] == ["--max-lr", "3e-4", "--warmup-epochs", "4"]
    assert by_method["chemprop + xtb foundation [gentle]"]["foundation"] == str(tmp_path / "f.pt")
    assert len({j["work"] for j in calls}) == 4  # no two runs share a folder
    assert set(vc.load_runs(tmp_path / "runs.csv").method) == set(by_method)


def _toy_task():
    from dnd.data.tasks.base import TaskSpec
    import torch
    spec = TaskSpec(name="toy", task_type="regression", metric="rmse", num_tasks=1, target_names=["y"],
                    standardize=False, mean=None, std=None)

    def recs(split, ys):
        return [SimpleNamespace(smiles=f"{split}{i}", y=torch.tensor([y])) for i, y in enumerate(ys)]
    return _Task(spec=spec, train=recs("tr", [0.0, 1.0]), valid=recs("va", [1.0, 2.0, 3.0, 4.0]),
                 test=recs("te", [0.0, 0.0]))


def test_valid_scores_use_the_valid_split_and_check_the_test_predictions(monkeypatch):
    task = _toy_task()
    seen = []

    def fake_predict(model_file, smiles_sets):
        seen.append(smiles_sets)
        return [np.array([[1.0], [2.0], [3.0], [6.0]]), np.array([[0.5], [-0.5]])]
    monkeypatch.setattr(vc, "predict_best", fake_predict)
    out = vc.valid_scores(task, Path("best.pt"), test_reference=np.array([[0.5], [-0.5]]), test_metric=0.5)
    assert seen[0] == [["va0", "va1", "va2", "va3"], ["te0", "te1"]]
    assert out == {"valid_rmse": pytest.approx(1.0)}  # sqrt((0+0+0+4)/4), valid labels, not test
    with pytest.raises(RuntimeError):  # the model file is not the one that made the test predictions
        vc.valid_scores(task, Path("best.pt"), test_reference=np.array([[0.5], [-0.4]]))
    with pytest.raises(RuntimeError):  # ... or not the one behind the recorded test metric
        vc.valid_scores(task, Path("best.pt"), test_metric=0.6)


def test_fill_valid_scores_only_rows_whose_model_reproduces_them(tmp_path, monkeypatch):
    task = _toy_task()
    runs = pd.DataFrame([{"task": "toy", "method": m, "seed": 0, "train_fraction": 1.0, "wall_s": 1.0, "rmse": 0.5}
                         for m in ("has model", "other model", "no model")])
    for m in ("has model", "other model"):
        folder = vc.work_folder(tmp_path, "toy", m, 1.0, 0) / "model" / "model_0"
        folder.mkdir(parents=True)
        (folder / "best.pt").write_text(m)

    def fake_predict(model_file, smiles_sets):
        shift = 0.0 if model_file.read_text() == "has model" else 1.0
        return [np.array([[1.0], [2.0], [3.0], [4.0]]), np.array([[0.5 + shift], [-0.5]])]
    monkeypatch.setattr(vc, "predict_best", fake_predict)
    import dnd.data.tasks
    monkeypatch.setattr(dnd.data.tasks, "load_task", lambda name, root, cache_dir: task)
    out = vc.fill_valid(runs.copy(), str(tmp_path), "x", "c")
    assert out.valid_rmse.tolist()[0] == pytest.approx(0.0)
    assert out.valid_rmse.isna().tolist() == [False, True, True]


def _valid_runs(table):
    """{method: [(valid, test) per seed]} on two tasks -> runs with valid_rmse."""
    return pd.DataFrame([{"task": t, "method": m, "seed": s, "train_fraction": 1.0, "wall_s": 1.0,
                          "rmse": test * k, "valid_rmse": valid * k}
                         for t, k in (("ogbg-molesol", 1.0), ("ogbg-molfreesolv", 3.0))
                         for m, vals in table.items() for s, (valid, test) in enumerate(vals)])


def test_selection_ranks_on_validation_never_on_test():
    runs = _valid_runs({vc.DEFAULTS: [(1.0, 1.0)] * 3,
                        "chemprop + F foundation [a]": [(0.9, 1.2)] * 3,   # better on valid, worse on test
                        "chemprop + F foundation [b]": [(1.05, 0.5)] * 3,  # worse on valid, best on test
                        "chemprop + F foundation [c]": [(0.5, 0.5)] * 2})  # one seed missing: not ranked
    table = vc.selection(runs, 1.0)
    overall = table[table.task == "all"].set_index("method")
    assert overall.loc["chemprop + F foundation [a]", "valid_rel_gain"] == pytest.approx(0.1)
    assert overall.loc["chemprop + F foundation [b]", "valid_rel_gain"] == pytest.approx(-0.05)
    assert overall["rank"].to_dict() == pytest.approx(
        {"chemprop + F foundation [a]": 1, "chemprop + F foundation [b]": 2, "chemprop + F foundation [c]": np.nan},
        nan_ok=True)
    assert vc.chosen_method(table) == "chemprop + F foundation [a]"
    per_task = table[(table.task == "ogbg-molfreesolv") & (table.method == "chemprop + F foundation [a]")].iloc[0]
    assert per_task.vs_defaults_mean == pytest.approx(0.3) and per_task.vs_defaults_won == 3
    assert "chemprop + F foundation [a]" in vc.selection_markdown(table, 1.0).splitlines()[-1]


def test_selection_needs_defaults_and_valid_column():
    runs = _valid_runs({"chemprop + F foundation": [(1.0, 1.0)]})
    assert vc.chosen_method(vc.selection(runs, 1.0)) is None
    assert vc.selection(runs.drop(columns="valid_rmse"), 1.0).empty


def test_train_command_has_foundation_and_recipe_flags_after_the_fixed_ones():
    job = {"seed": 3, "foundation": "/f.pt", "flags": ["--max-lr", "3e-4"]}
    cmd = vc.train_command(job, Path("d.csv"), ["t0"], "regression", Path("out"))
    assert cmd[1] == "train" and cmd[-4:] == ["--from-foundation", "/f.pt", "--max-lr", "3e-4"]
    assert cmd[cmd.index("--pytorch-seed") + 1] == "3" and cmd[cmd.index("--data-seed") + 1] == "3"
    plain = vc.train_command({"seed": 0, "foundation": None}, Path("d.csv"), ["t0"], "regression", Path("o"))
    assert "--from-foundation" not in plain and plain[-1] == "0"  # --num-workers 0, nothing after
    # the command chemprop's parser reads back: the recipe's value, the benchmark's seed
    args = vc._chemprop_train_args(cmd[2:])
    assert args.max_lr == 3e-4 and args.pytorch_seed == 3 and args.from_foundation == "/f.pt"


def test_selection_files_per_fraction(tmp_path, monkeypatch):
    runs = _valid_runs({vc.DEFAULTS: [(1.0, 1.0)] * 3, "chemprop + F foundation [a]": [(0.9, 1.2)] * 3})
    few = runs.assign(train_fraction=0.1, valid_rmse=runs.valid_rmse[::-1].to_numpy())
    pd.concat([runs, few]).to_csv(tmp_path / "runs.csv", index=False)
    monkeypatch.setattr(vc, "fill_valid", lambda runs, *a: runs)
    vc.main(["--data-root", "x", "--out", str(tmp_path), "--summary-only", "--tasks", "ogbg-molesol",
             "--select-fraction", "1.0", "0.1"])
    table = pd.read_csv(tmp_path / "selection.csv")
    assert sorted(table.train_fraction.unique()) == [0.1, 1.0]
    md = (tmp_path / "selection.md").read_text()
    assert "## Fraction 1" in md and "## Fraction 0.1" in md


def test_pick_on_valid_takes_each_seeds_better_validation_run():
    """The rule a user can follow (scripts/foundation_vs_recipe_alone.py): per seed, the run with
    the better valid metric; checked against hand-picked test values, for an error metric."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    import foundation_vs_recipe_alone as fv

    found, alone = "chemprop + X foundation [long]", fv.REFERENCE
    rows = [  # (method, seed, valid_rmse, rmse)
        (found, 0, 1.0, 2.0), (alone, 0, 1.5, 3.0), (vc.DEFAULTS, 0, 9.0, 4.0),   # foundation picked
        (found, 1, 2.0, 1.0), (alone, 1, 1.0, 5.0), (vc.DEFAULTS, 1, 9.0, 4.0),   # recipe alone picked
        (found, 2, 1.0, 3.0), (alone, 2, 2.0, 3.0)]                               # no defaults row: left out
    runs = pd.DataFrame(rows, columns=["method", "seed", "valid_rmse", "rmse"]).assign(
        task="t", train_fraction=0.1, rocauc=np.nan)
    (row,) = fv.pick_on_valid(runs, [found]).to_dict("records")
    assert row["n"] == 2 and row["foundation_picked"] == 1 and row["metric"] == "rmse"
    assert row["test_mean"] == pytest.approx(3.5)               # seed 0: 2.0, seed 1: 5.0
    assert row["vs_defaults_mean"] == pytest.approx(0.5)         # (4-2 + 4-5) / 2
    assert row["vs_recipe_alone_mean"] == pytest.approx(0.5)     # (3-2 + 5-5) / 2
    assert row["vs_recipe_alone_won"] == 1
    # a second candidate, best on validation at seed 1 only: picked there
    other = pd.DataFrame([("dnd finetune Y", 0, 1.2, 9.0), ("dnd finetune Y", 1, 0.5, 0.5)],
                         columns=["method", "seed", "valid_rmse", "rmse"]).assign(task="t", train_fraction=0.1,
                                                                                  rocauc=np.nan)
    (row,) = fv.pick_on_valid(pd.concat([runs, other]), [found, "dnd finetune Y"]).to_dict("records")
    assert row["foundation_picked"] == 2 and row["test_mean"] == pytest.approx((2.0 + 0.5) / 2)


def test_full_label_targets_count_mean_and_std_sum_by_hand():
    """Issue 21's full-label targets (scripts/low_label_table.py --labels full): better by mean,
    beyond the sum of both stds, in the metric's own direction, and ESOL no worse."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    import low_label_table as lt

    f = "chemprop + X foundation [long]"
    rows = [  # (task, method, metric, mean, std)
        ("ogbg-molesol", lt.DEFAULTS, "rmse", 0.80, 0.01), ("ogbg-molesol", f, "rmse", 0.81, 0.01),    # worse
        ("ogbg-molbbbp", lt.DEFAULTS, "rocauc", 0.60, 0.01), ("ogbg-molbbbp", f, "rocauc", 0.65, 0.01),  # beyond
        ("ogbg-molbace", lt.DEFAULTS, "rocauc", 0.70, 0.03), ("ogbg-molbace", f, "rocauc", 0.72, 0.03),  # within
        ("ogbg-molfreesolv", lt.DEFAULTS, "rmse", 2.4, 0.1), ("ogbg-molfreesolv", f, "rmse", 2.0, 0.1)]  # beyond
    s = pd.DataFrame(rows, columns=["task", "method", "metric", "mean", "std"])
    last = lt.full_label_targets(s, f)[-1]
    assert "| 4 | 3 (bbbp, bace, freesolv) | 2 (bbbp, freesolv) |" in last
    assert "0.8100 vs 0.8000 (missed)" in last


def test_low_label_table_refuses_unknown_foundation_and_missing_file(tmp_path, capsys):
    """A misspelt --foundation or a missing summary is one line and exit code 2, never an empty
    targets table."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    import low_label_table as lt

    summary = tmp_path / "summary.csv"
    pd.DataFrame({"task": ["ogbg-molesol"], "train_fraction": [0.1], "method": [lt.DEFAULTS], "metric": ["rmse"],
                  "mean": [1.0], "std": [0.1], "n_seeds": [5], "vs_defaults_n": [np.nan]}).to_csv(summary, index=False)
    for argv, said in (([str(summary), "--foundation", "typo"], "--foundation 'typo' is not a method"),
                       ([str(tmp_path / "none.csv")], "none.csv: no such file")):
        with pytest.raises(SystemExit) as e:
            lt.main(argv)
        assert e.value.code == 2 and said in capsys.readouterr().err


def test_dnd_finetune_rows_from_a_student_and_from_randinit(tmp_path, monkeypatch):
    """--dnd-student finetunes from the checkpoint, --dnd-randinit from a random initialisation of
    the named encoder and preset: same recipe, same training subset, the run's seed; the row gets
    the test and the valid metric of the model dnd selected."""
    import dnd.data.tasks
    import dnd.models.checkpoint
    import dnd.training.finetune
    calls = []
    monkeypatch.setattr(vc, "ProcessPoolExecutor", _Serial)
    monkeypatch.setattr(dnd.data.tasks, "load_task", lambda name, root, cache_dir: _toy_task())
    monkeypatch.setattr(dnd.models.checkpoint, "load_encoder", lambda ckpt: SimpleNamespace(name="tokengt"))

    def fake_finetune(cfg, task, out):
        calls.append((cfg, len(task.train)))
        return {"valid": 2.0 + cfg.trainer.seed, "test": 3.0 + cfg.trainer.seed}
    monkeypatch.setattr(dnd.training.finetune, "run_finetune", fake_finetune)
    (tmp_path / "s.ckpt").touch()  # read by the stubbed load_encoder only; the option checks it exists
    vc.main(["--data-root", "x", "--out", str(tmp_path), "--work", str(tmp_path / "w"), "--tasks", "ogbg-molesol",
             "--seeds", "1", "--no-defaults", "--dnd-student", f"xtb={tmp_path / 's.ckpt'}",
             "--dnd-randinit", "tokengt:cpu-fast"])
    (student, n1), (randinit, n2) = calls
    assert student.init == str(tmp_path / "s.ckpt") and student.readout == "mp"
    assert randinit.init is None and (randinit.encoder, randinit.preset) == ("tokengt", "cpu-fast")
    assert student.trainer.seed == randinit.trainer.seed == 1 and n1 == n2 == 2
    runs = vc.load_runs(tmp_path / "runs.csv").set_index("method")
    assert runs.loc["dnd finetune xtb", "rmse"] == 4.0 and runs.loc["dnd finetune xtb", "valid_rmse"] == 3.0
    assert "dnd finetune RandInit tokengt (cpu-fast)" in runs.index


@pytest.mark.parametrize("flag,spec", [("--dnd-randinit", "tokengt"), ("--dnd-student", "no-equals-sign"),
                                       ("--dnd-student", "xtb=/no/such/student.ckpt")])
def test_malformed_dnd_rows_are_one_line_and_exit_2(tmp_path, flag, spec, capsys):
    with pytest.raises(SystemExit) as e:
        vc.main(["--data-root", "x", "--out", str(tmp_path), "--tasks", "ogbg-molesol", flag, spec])
    assert e.value.code == 2 and spec in capsys.readouterr().err


def test_pick_script_refuses_an_unknown_candidate(tmp_path, capsys):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    import foundation_vs_recipe_alone as fv
    pd.DataFrame({"task": ["t"], "method": [vc.DEFAULTS], "seed": [0], "train_fraction": [0.1], "rmse": [1.0]}
                 ).to_csv(tmp_path / "runs.csv", index=False)
    with pytest.raises(SystemExit) as e:
        fv.main(["--folder", str(tmp_path), "--candidate", "no such method"])
    assert e.value.code == 2 and "not a method" in capsys.readouterr().err


@pytest.mark.parametrize("workers", [1, 2, 64])
def test_pool_workers_share_the_cores(workers, monkeypatch):
    import torch
    before = torch.get_num_threads()
    monkeypatch.setattr(vc.os, "cpu_count", lambda: 8)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    try:
        vc.share_cores(workers)
        assert torch.get_num_threads() == {1: 8, 2: 4, 64: 1}[workers]
        torch.set_num_threads(3)
        monkeypatch.setenv("OMP_NUM_THREADS", "3")
        vc.share_cores(workers)   # the user's explicit setting wins
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)


def test_paired_table_restricts_every_column_to_the_anchor_seeds(tmp_path, capsys):
    """scripts/paired_table.py: a method's extra seeds are not averaged in, a column missing one
    of the anchor's seeds shows '-', the best mean is bold; unknown methods exit 2."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    import paired_table
    rows = [("A", s, v) for s, v in [(0, 1.0), (1, 3.2)]]
    rows += [("B", s, v) for s, v in [(0, 2.0), (1, 2.0), (2, 100.0)]]   # seed 2: not A's
    rows += [("C", 0, 0.5)]                                              # seed 1 missing
    runs = pd.DataFrame([{"task": "ogbg-molesol", "method": m, "seed": s, "train_fraction": 0.1, "rmse": v}
                         for m, s, v in rows])
    path = tmp_path / "runs.csv"
    runs.to_csv(path, index=False)
    assert paired_table.main([str(path), "--fraction", "0.1", "--anchor", "A",
                              "--column", "a=A", "--column", "b=B", "--column", "c=C"]) == 0
    row = capsys.readouterr().out.strip().splitlines()[-1]
    assert row == "| ESOL (RMSE ↓) | 0-1 | 2.100 ± 1.556 | **2.000 ± 0.000** | - |"
    assert paired_table.main([str(path), "--fraction", "0.1", "--anchor", "A", "--column", "x=nope"]) == 2
    assert "no runs of method(s) ['nope']" in capsys.readouterr().err


_ORPHAN_PARENT = """
import sys, time
from concurrent.futures import ProcessPoolExecutor
sys.path.insert(0, {bench!r})
import vs_chemprop as vc

def job(pid_file):
    import os
    open(pid_file, "w").write(str(os.getpid()))
    time.sleep(120)

with ProcessPoolExecutor(1, initializer=vc.init_worker, initargs=(1,)) as pool:
    list(pool.map(job, [{pid_file!r}] * 3))
"""


def test_pool_worker_dies_with_a_killed_parent(tmp_path):
    """`kill` of a running vs_chemprop must not leave a worker training queued runs."""
    import os
    import signal
    import subprocess
    import time

    pid_file = tmp_path / "worker.pid"
    script = _ORPHAN_PARENT.format(bench=str(Path(vc.__file__).parent), pid_file=str(pid_file))
    parent = subprocess.Popen([sys.executable, "-c", script], env=os.environ | {"OMP_NUM_THREADS": "1"})
    worker = None
    try:
        deadline = time.time() + 60
        while not (pid_file.is_file() and pid_file.read_text()) and time.time() < deadline:
            time.sleep(0.1)
        worker = int(pid_file.read_text())
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        deadline = time.time() + 15
        while _alive(worker) and time.time() < deadline:
            time.sleep(0.2)
        assert not _alive(worker), "the pool worker outlived its killed parent"
    finally:
        parent.kill()
        if worker and _alive(worker):
            os.kill(worker, signal.SIGKILL)


def _alive(pid: int) -> bool:
    """True while `pid` runs (a zombie counts as gone: it trains nothing)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_dnd_recipe_runs_every_dnd_row_under_its_settings(tmp_path, monkeypatch):
    """--dnd-recipe NAME="FLAGS" adds '<row> [NAME]' for each dnd row, trained with FLAGS over dnd's
    recipe (the nested trainer setting too) and the benchmark's seed; the plain row keeps dnd's."""
    import dnd.data.tasks
    import dnd.models.checkpoint
    import dnd.training.finetune
    calls = {}
    monkeypatch.setattr(vc, "ProcessPoolExecutor", _Serial)
    monkeypatch.setattr(dnd.data.tasks, "load_task", lambda name, root, cache_dir: _toy_task())
    monkeypatch.setattr(dnd.models.checkpoint, "load_encoder", lambda ckpt: SimpleNamespace(name="tokengt"))

    def fake_finetune(cfg, task, out):
        calls[cfg.method] = cfg
        return {"valid": 2.0, "test": 3.0}
    monkeypatch.setattr(dnd.training.finetune, "run_finetune", fake_finetune)
    (tmp_path / "s.ckpt").touch()
    vc.main(["--data-root", "x", "--out", str(tmp_path), "--work", str(tmp_path / "w"), "--tasks", "ogbg-molesol",
             "--seeds", "1", "--no-defaults", "--dnd-student", f"xtb={tmp_path / 's.ckpt'}",
             "--dnd-recipe", "small=--batch-size 32 --max-epochs 7"])
    plain, small = calls["dnd finetune xtb"], calls["dnd finetune xtb [small]"]
    assert (plain.batch_size, plain.trainer.max_epochs) == (128, 100)
    assert (small.batch_size, small.trainer.max_epochs, small.trainer.seed) == (32, 7, 1)
    assert small.init == plain.init and small.lr == plain.lr


@pytest.mark.parametrize("spec,said", [("x=--no-such-flag 1", "dnd finetune refuses"),
                                       ("x=--batch-size many", "dnd finetune refuses"),
                                       ("x=--seed 3", "the benchmark fixes"),
                                       ("x=--init dnd:other", "the benchmark fixes"),
                                       ("nosign", "expected NAME=")])
def test_bad_dnd_recipe_is_one_line_and_exit_2(tmp_path, spec, said, capsys):
    with pytest.raises(SystemExit) as e:
        vc.main(["--data-root", "x", "--out", str(tmp_path), "--tasks", "ogbg-molesol", "--dnd-recipe", spec])
    assert e.value.code == 2 and said in capsys.readouterr().err


def test_dnd_row_of_a_dmpnn_student_gets_the_defaults_dnd_finetune_gives_it(tmp_path, monkeypatch):
    """The benchmark's 'dnd finetune' row is what a user's `dnd finetune --init` runs: for a D-MPNN
    student chemprop's readout, lr and batch (training.config.finetune_defaults), not Table 5c's."""
    import dnd.data.tasks
    import dnd.models.checkpoint
    import dnd.training.finetune
    calls = []
    monkeypatch.setattr(vc, "ProcessPoolExecutor", _Serial)
    monkeypatch.setattr(dnd.data.tasks, "load_task", lambda name, root, cache_dir: _toy_task())
    monkeypatch.setattr(dnd.models.checkpoint, "load_encoder", lambda ckpt: SimpleNamespace(name="dmpnn"))
    monkeypatch.setattr(dnd.training.finetune, "run_finetune",
                        lambda cfg, task, out: calls.append(cfg) or {"valid": 2.0, "test": 3.0})
    (tmp_path / "s.ckpt").touch()
    vc.main(["--data-root", "x", "--out", str(tmp_path), "--work", str(tmp_path / "w"), "--tasks", "ogbg-molesol",
             "--seeds", "1", "--no-defaults", "--dnd-student", f"d={tmp_path / 's.ckpt'}"])
    (cfg,) = calls
    assert (cfg.readout, cfg.lr, cfg.batch_size, cfg.warmup_epochs) == ("norm", 1e-3, 50, 2.0)

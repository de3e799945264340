"""Regression targets are standardised with the mean/std of the molecules a run trains on, not of
the whole training split (which --train-fraction / --max-train subsampling leaves partly unused)."""

from dataclasses import replace

import numpy as np
import pytest

from dnd.data.tasks.base import fit_standardization
from dnd.models.property import load_property_model
from dnd.training.finetune import subsample_train
from finetune_fixtures import regression_task, train_tiny


@pytest.mark.parametrize("loader_fitted", [False, True])
def test_mean_std_come_from_the_trained_subsample(tmp_path, loader_fitted):
    task = regression_task()
    if loader_fitted:  # curated/QM9 loaders fit mean/std on the whole training split themselves
        mean, std = fit_standardization(task.train, 1)
        task = replace(task, spec=replace(task.spec, standardize=True, mean=mean, std=std))
    result = train_tiny(tmp_path, task, epochs=1, train_fraction=0.5, max_train=12)
    trained = subsample_train(task.train, 0.5, 0, 12)
    assert result["n_train"] == len(trained) == 6
    y_trained = np.array([float(r.y) for r in trained])
    y_all = np.array([float(r.y) for r in task.train])
    spec = load_property_model(result["checkpoint"]).spec
    assert spec.mean[0] == pytest.approx(y_trained.mean()) and spec.std[0] == pytest.approx(y_trained.std())
    assert abs(y_trained.mean() - y_all.mean()) > 1.0     # the check can tell the two apart

"""`dnd predict`: properties of new molecules from a finetuned checkpoint (`dnd.inference.predict`)."""

from __future__ import annotations

import argparse

from dnd.cli.common import deprecated_alias, user_errors


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="finetuned checkpoint (dnd finetune's best.ckpt)")
    parser.add_argument("--input", required=True, help="CSV with a SMILES column, or an SDF (.sdf, .sdf.gz)")
    parser.add_argument("--smiles-column", default="smiles", help="CSV column holding SMILES")
    parser.add_argument("--out", required=True, help="output CSV")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--accelerator", default="cpu", help="cpu, gpu, auto, or a device such as cuda:1")
    deprecated_alias(parser, "--device", "--accelerator", "accelerator")


def run(args: argparse.Namespace) -> int:
    from dnd.device import torch_device
    from dnd.inference.inputs import InputError
    from dnd.inference.predict import predict_file
    from dnd.models.checkpoint import CheckpointError
    from dnd.models.property import load_property_model

    with user_errors(InputError, CheckpointError):
        model = load_property_model(args.model).to(torch_device(args.accelerator))
        table = predict_file(model, args.input, args.out, args.smiles_column, args.batch_size)
    n_bad = int((table["error"] != "").sum())
    spec = model.spec
    unit = f" in {spec.unit}" if spec.unit and spec.task_type == "regression" else ""
    kind = "probabilities" if spec.task_type == "classification" else f"predictions{unit}"
    print(f"{args.out}: {len(table)} rows, {spec.name} {kind}; {n_bad} row(s) without prediction (see 'error')")
    return 0



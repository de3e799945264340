"""`dnd predict`: properties of new molecules from a finetuned checkpoint (`dnd.inference.predict`)."""

from __future__ import annotations

import argparse

from dnd.cli.common import add_max_atoms_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="finetuned checkpoint (dnd finetune's best.ckpt)")
    parser.add_argument("--input", required=True, help="CSV with a SMILES column, or an SDF (.sdf, .sdf.gz)")
    parser.add_argument("--smiles-column", default="smiles", help="CSV column holding SMILES")
    parser.add_argument("--out", required=True, help="output CSV")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--accelerator", default="cpu", help="cpu, gpu, auto, or a device such as cuda:1")
    add_max_atoms_argument(parser)


def run(args: argparse.Namespace) -> int:
    from dnd.checks import output_file, torch_device
    from dnd.data.featurize import atom_limit
    from dnd.inference.predict import predict_file
    from dnd.models.property import load_property_model

    device = torch_device(args.accelerator)  # option errors before the model is read
    output_file(args.out)
    model = load_property_model(args.model).to(device)
    with atom_limit(args.max_atoms):
        table = predict_file(model, args.input, args.out, args.smiles_column, args.batch_size)
    n_bad = int((table["error"] != "").sum())
    spec = model.spec
    unit = f" in {spec.unit}" if spec.unit and spec.task_type == "regression" else ""
    kind = "probabilities" if spec.task_type == "classification" else f"predictions{unit}"
    print(f"{args.out}: {len(table)} rows, {spec.name} {kind}; {n_bad} row(s) without prediction (see 'error')")
    return 0



"""`dnd embed`: molecule (and atom) embeddings of a student or finetuned model (`dnd.inference.embed`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from dnd.cli.common import add_max_atoms_argument
from dnd.models.config import READOUTS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="student (distill/infomax) or finetuned checkpoint")
    parser.add_argument("--input", required=True, help="CSV with a SMILES column, or an SDF (.sdf, .sdf.gz)")
    parser.add_argument("--smiles-column", default="smiles")
    parser.add_argument("--out", required=True, help="emb.npy ([n, d] array) or emb.csv (input columns + emb_*)")
    parser.add_argument("--readout", choices=READOUTS, default=None,
                        help="graph readout (default: the finetuned model's, or mp for a student)")
    parser.add_argument("--nodes", action="store_true",
                        help="also write heavy-atom embeddings to OUT_nodes.npz (embeddings, row, atom)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--accelerator", default="cpu", help="cpu, gpu, auto, or a device such as cuda:1")
    add_max_atoms_argument(parser)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from dnd.checks import torch_device
    from dnd.data.featurize import atom_limit
    from dnd.inference.embed import embed_file, node_path

    torch_device(args.accelerator)  # option errors before the model is read
    with atom_limit(args.max_atoms):
        graph = embed_file(args.model, args.input, args.out, args.smiles_column, args.readout,
                           args.nodes, args.batch_size, args.accelerator)
    n_bad = int(np.isnan(graph).any(axis=1).sum())
    print(f"{args.out}: {graph.shape[0]} x {graph.shape[1]} graph embeddings; {n_bad} row(s) failed (NaN)")
    if args.nodes:
        print(f"{node_path(Path(args.out))}: node embeddings")
    return 0

"""`dnd embed`: the encoder's molecule (and atom) embeddings for use outside dnd.

Works with a student checkpoint (distill / infomax: the pretrained representation) or a finetuned
one (its encoder and readout, adapted to the task). Graph embeddings come from the readout
("mp" mean pooling or "vn" graph token), one row per input molecule in input order; a molecule
that cannot be featurized gets a row of NaN (and its reason on stderr, or in the `error` column
of CSV output). `--nodes` adds per-atom embeddings of the heavy atoms.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from dnd.checks import output_file, torch_device
from dnd.data.loader import make_loader
from dnd.inference.inputs import InputError, read_molecules
from dnd.models.checkpoint import hparams, load_checkpoint, load_encoder
from dnd.models.encoder import GraphEncoder
from dnd.models.property import is_property_checkpoint, load_property_model
from dnd.models.readout import Readout


def load_embedder(path: str | Path, readout: str | None = None) -> tuple[GraphEncoder, Readout]:
    """(encoder, readout) of a finetuned or student checkpoint. `readout` None keeps the
    finetuned model's own readout, or mean pooling for a student."""
    hp = hparams(load_checkpoint(path), path)
    if is_property_checkpoint(hp):
        model = load_property_model(path)
        return model.encoder, (Readout(readout) if readout else model.readout)
    return load_encoder(path), Readout(readout or "mp")


@torch.no_grad()
def embed_records(encoder: GraphEncoder, readout: Readout, records: Sequence, batch_size: int = 256,
                  nodes: bool = False) -> tuple[np.ndarray, list[np.ndarray]]:
    """Graph embeddings [n, d] and (when `nodes`) per-record node embeddings [n_i, d]."""
    encoder.eval()
    device = next(encoder.parameters()).device
    graphs, node_lists = [], []
    for batch in make_loader(encoder.prepare(records), batch_size):
        batch = batch.to(device)
        out = encoder(batch)
        graphs.append(readout(out, batch).cpu())
        if nodes:
            node_lists += list(torch.split(out.node.cpu(), batch.ptr.diff().tolist()))
    dim = encoder.hidden_dim
    graph = torch.cat(graphs).numpy() if graphs else np.zeros((0, dim), dtype=np.float32)
    return graph, [n.numpy() for n in node_lists]


def write_embeddings(out: Path, table: pd.DataFrame, errors: list[str], graph: np.ndarray) -> None:
    """.npy: the [n_inputs, d] array; .csv: input columns, error, emb_0..emb_{d-1}."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp{out.suffix}")  # np.save keeps a .npy suffix as given
    if out.suffix.lower() == ".npy":
        np.save(tmp, graph)
    else:
        emb = pd.DataFrame(graph, columns=[f"emb_{j}" for j in range(graph.shape[1])])
        pd.concat([table.reset_index(drop=True).assign(error=errors), emb], axis=1).to_csv(tmp, index=False)
    tmp.replace(out)  # never a half-written output under the real name


def node_path(out: Path) -> Path:
    return out.with_name(out.stem + "_nodes.npz")


def embed_file(model_path: str | Path, input_path: str | Path, out_path: str | Path,
               smiles_column: str = "smiles", readout: str | None = None, nodes: bool = False,
               batch_size: int = 256, accelerator: str = "cpu") -> np.ndarray:
    """Embed every molecule of a CSV/SDF; returns the graph embeddings (NaN rows for failures)."""
    out = output_file(out_path)
    if out.suffix.lower() not in (".npy", ".csv"):
        raise InputError(f"{out}: output must end in .npy or .csv")
    encoder, ro = load_embedder(model_path, readout)
    encoder.to(torch_device(accelerator))
    inputs = read_molecules(input_path, smiles_column)
    valid = inputs.valid
    g, node_list = embed_records(encoder, ro, [inputs.graphs[i] for i in valid], batch_size, nodes)
    graph = np.full((len(inputs.graphs), encoder.hidden_dim), np.nan, dtype=np.float32)
    graph[valid] = g
    write_embeddings(out, inputs.table, inputs.errors, graph)
    if nodes:
        np.savez(node_path(out),
                 embeddings=np.concatenate(node_list) if node_list else np.zeros((0, encoder.hidden_dim), np.float32),
                 row=np.concatenate([np.full(len(n), i) for i, n in zip(valid, node_list)] or [np.zeros(0, int)]),
                 atom=np.concatenate([np.arange(len(n)) for n in node_list] or [np.zeros(0, int)]))
    return graph

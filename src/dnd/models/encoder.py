"""The one interface every 2D student encoder implements.

Distillation matches the student's per-node states against the teacher's per-atom states, and
finetuning pools them into one vector per molecule; both only need `forward(batch)` returning an
`EncoderOutput`. Keeping TokenGT and PNA behind this interface lets every stage name the encoder
by string (see `dnd.models.registry`) and swap it without code changes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar, NamedTuple

from torch import Tensor, nn


class EncoderOutput(NamedTuple):
    """node: [N_nodes, d] per graph node, in the batch's node order.
    graph_token: [B, d] state of the encoder's virtual node / graph token, or None when the
    encoder has none (then only mean-pooling readout applies)."""

    node: Tensor
    graph_token: Tensor | None


class GraphEncoder(nn.Module, ABC):
    """Base of the 2D encoders. Subclasses hold a typed dataclass `config` (plain values only, so
    it can be saved in a checkpoint's hparams) and set `name`, the registry key."""

    name: ClassVar[str]
    config: Any

    @property
    def hidden_dim(self) -> int:
        return int(self.config.hidden_dim)

    @abstractmethod
    def forward(self, batch) -> EncoderOutput:
        """Encode a PyG batch (`x`, `edge_index`, `edge_attr`, `batch`, `num_graphs`)."""

    def encode(self, batch) -> Tensor:
        """Per-node representations [N_nodes, hidden_dim]."""
        return self.forward(batch).node

    @abstractmethod
    def layer_groups(self) -> list[list[nn.Parameter]]:
        """Parameters grouped bottom (input embeddings) to top (last layer), each parameter in
        exactly one group; layer-wise learning-rate decay scales each group's lr."""

    def top_parameters(self) -> list[nn.Parameter]:
        """Parameters after the last layer that train at the head's rate under layer-wise lr
        decay (BEiT's final norm); not in `layer_groups()`. None by default."""
        return []

    def no_weight_decay(self) -> set[str]:
        """Names of this module's own learned tokens, exempt from weight decay (timm's hook)."""
        return set()

    def prepare(self, records: Sequence[Any]) -> list[Any]:
        """The records as this encoder wants them for training and inference, with whatever it
        computes once per molecule rather than per batch (TokenGT: its Laplacian eigenvectors).
        The input records are not modified. Default: the records as given."""
        return list(records)

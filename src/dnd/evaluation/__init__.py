"""Task metrics, computed the way each benchmark defines them."""

from dnd.evaluation.metrics import evaluate, higher_is_better

__all__ = ["evaluate", "higher_is_better"]

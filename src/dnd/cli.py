"""`dnd` command line. Each subcommand lives in the module that does the work; the module
exposes `add_arguments(parser)` and `run(args)`, so the CLI stays a thin table."""

from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "data": ("dnd.data.command", "prepare and inspect datasets (QM9, SDF, PCQM4Mv2, tasks, refractive index)"),
    "denoise": ("dnd.training.denoise", "pretrain the 3D teacher by coordinate denoising"),
    "distill": ("dnd.training.distill", "distill the frozen teacher into a 2D student (D&D-GRAPH / D&D-NODE)"),
    "infomax": ("dnd.training.infomax", "3DInfomax baseline: contrastive 2D-3D pretraining"),
    "finetune": ("dnd.training.finetune", "finetune a (pretrained or random) 2D encoder on a property task"),
    "predict": ("dnd.inference.predict", "predict properties for SMILES or SDF input"),
    "embed": ("dnd.inference.embed", "write graph (and node) embeddings of the student"),
    "plot-curves": ("dnd.analysis.curves", "plot train/validation loss curves from CSV logs"),
    "attention": ("dnd.analysis.attention", "per-head correlation of student attention with 3D distances"),
    "label-efficiency": ("dnd.analysis.label_efficiency", "test metric against the share of training labels"),
    "export": ("dnd.models.export_command", "export a distilled D-MPNN as a chemprop foundation model file"),
    "models": ("dnd.models.models_command", "list the pretrained models shipped with dnd (use them as dnd:NAME)"),
    "run": ("dnd.pipeline", "run a whole experiment from a YAML config"),
    "quickstart": ("dnd.quickstart", "the whole pipeline on the embedded data, in minutes on a CPU"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dnd", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


REPORT_HINT = "this is a bug in dnd, not in your input: please report it with the traceback above"


def main(argv: list[str] | None = None) -> int:
    """Parse and run one command. A `UserError` (bad file, option, input or checkpoint) becomes
    one line `dnd: error: ...` and exit code 2, as argparse does for bad options; any other
    exception is a bug and keeps its traceback, followed by a hint to report it."""
    from dnd.errors import UserError

    from dnd.data.featurize import set_max_atoms

    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "max_atoms", None) is not None:
            set_max_atoms(args.max_atoms)
        code = args._run(args)
    except UserError as err:
        print(f"dnd: error: {err}", file=sys.stderr)
        return 2
    except Exception:
        import traceback

        traceback.print_exc()
        print(f"dnd {args.command}: {REPORT_HINT}", file=sys.stderr)
        return 1
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())

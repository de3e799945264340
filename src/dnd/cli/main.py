"""`dnd` command line: one module per verb under `dnd.cli`, each with `add_arguments(parser)` and
`run(args)`; the training verbs' options are generated from their configs (`dnd.cli.options`), the
groups they share are in `dnd.cli.common`. The verb modules import only torch-free
configs at import time and the library inside `run`, so `dnd --help` answers at once."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from dnd.errors import UserError

# verb -> (module under dnd.cli, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "data": ("data", "prepare and inspect datasets (QM9, SDF, PCQM4Mv2, tasks, refractive index)"),
    "denoise": ("denoise", "pretrain the 3D teacher by coordinate denoising"),
    "distill": ("distill", "distill a frozen teacher (denoiser, ANI-2x, GFN2-xTB) into a 2D student (D&D-GRAPH / D&D-NODE)"),
    "teacher-features": ("teacher_features", "compute ANI-2x / GFN2-xTB teacher features of a corpus in resumable shards"),
    "infomax": ("infomax", "3DInfomax baseline: contrastive 2D-3D pretraining"),
    "finetune": ("finetune", "finetune a (pretrained or random) 2D encoder on a property task"),
    "predict": ("predict", "predict properties for SMILES or SDF input"),
    "embed": ("embed", "write graph (and node) embeddings of the student"),
    "plot-curves": ("plot_curves", "plot train/validation loss curves from CSV logs"),
    "attention": ("attention", "per-head correlation of student attention with 3D distances"),
    "label-efficiency": ("label_efficiency", "test metric against the share of training labels"),
    "export": ("export", "export a distilled D-MPNN as a chemprop foundation model file"),
    "models": ("models", "list the pretrained models shipped with dnd (use them as dnd:NAME)"),
    "run": ("run", "run a whole experiment from a YAML config"),
    "quickstart": ("quickstart", "the whole pipeline on the embedded data, in minutes on a CPU"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dnd", description="Denoise and Distill: 3D-pretrained teachers "
                                     "distilled into 2D molecular graph encoders")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(f"dnd.cli.{module_name}")
        p = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(p)
        p.set_defaults(_run=module.run, _prog=p.prog)
    return parser


REPORT_HINT = "this is a bug in dnd, not in your input: please report it with the traceback above"


def main(argv: list[str] | None = None) -> int:
    """Parse and run one command. A `UserError` (bad file, option, input or checkpoint) becomes
    one line `dnd VERB: error: ...` and exit code 2, as argparse does for bad options; any other
    exception is a bug and keeps its traceback, followed by a hint to report it. A reader that
    stops early (`dnd models NAME | head`) ends the command quietly with the shell's SIGPIPE
    status, 141, as `yes | head` does."""
    args = build_parser().parse_args(argv)
    try:
        code = int(args._run(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return code
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
        return 141
    except UserError as err:
        print(f"{args._prog}: error: {err}", file=sys.stderr)
        return 2
    except Exception:
        import traceback

        traceback.print_exc()
        print(f"{args._prog}: {REPORT_HINT}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

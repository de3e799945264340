"""Denoise and Distill (D&D): a 3D teacher pretrained by coordinate denoising, distilled into a
2D molecular graph encoder that is finetuned on property tasks and predicts from SMILES alone."""

__version__ = "0.1.0"

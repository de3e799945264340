"""Analyses of trained runs: loss curves (Figure 3 of the paper) and the like."""

"""Xianjie benchmark suite: baselines and the hub end to end on both stacks (``python -m bench``; see README.md)."""

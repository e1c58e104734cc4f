"""Xianjie (衔接): the community-corrections data-exchange hub."""

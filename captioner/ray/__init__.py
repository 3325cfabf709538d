"""Captioning on a Ray cluster (``captioner caption --ray``), and the batch captioner for ``Dataset.map_batches``."""

"""Index weights: the eligible bonds of a universe weighted under an index's weighting rule as the KB records it."""

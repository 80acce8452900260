"""Data loaders of the paper's four experiments (read in place from ``shared/data``) plus
small generated/bundled sets for tests. Each returns plain numpy arrays."""

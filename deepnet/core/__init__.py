"""Paper-agnostic machinery: training engine, checkpoints, config-to-CLI, runtime helpers."""

"""The migration steps: one module per state-machine task, plain functions over a context."""

"""Base models: resolving a name safely (torch-free) and loading it as a text encoder."""

"""MetaLab's engine: headless, Qt-free. ``python -m engine`` is the CLI (``metalab-engine``)."""

__version__ = "0.1.0"

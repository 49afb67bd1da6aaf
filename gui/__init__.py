"""MetaLab's desktop GUI (PySide6 + pyqtgraph).

It talks to the engine only through QProcess (``python -m engine ...``), the JSON-lines
events on the engine's stdout, and reads of the SQLite store; it never imports torch or
transformers (see docs/GUI.md).
"""

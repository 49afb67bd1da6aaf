"""Views of a finished run that the few-shot surveys ask for, computed in the engine and
printed as JSON for the GUI (``metalab-engine inspect``, ``predict --explain``): maps of
an episode's embeddings before and after training, confusion matrices per episode and
over all meta-test episodes, and which words drove a prediction.
"""

from engine.inspection._attribution import explain
from engine.inspection._confusion import confusion
from engine.inspection._projection import PROJECTIONS
from engine.inspection._report import inspect_run

__all__ = ["PROJECTIONS", "confusion", "explain", "inspect_run"]

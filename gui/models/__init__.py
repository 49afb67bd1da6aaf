"""Qt item models over plain data: views observe these, never hand-filled widgets."""

from gui.models.log_model import LogFilterModel, LogModel
from gui.models.runs_model import RunsModel
from gui.models.table_model import TablePreviewModel

__all__ = ["LogFilterModel", "LogModel", "RunsModel", "TablePreviewModel"]

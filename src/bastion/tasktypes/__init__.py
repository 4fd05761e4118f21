"""Task types (plugins): config schema, result validation, widget, exports and quality."""

from .base import Rating, TaskType, TaskTypes, installed

__all__ = ["Rating", "TaskType", "TaskTypes", "installed"]

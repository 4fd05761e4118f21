"""Task types (plugins): config schema, result validation, widget and exports."""

from .base import TaskType, TaskTypes, installed

__all__ = ["TaskType", "TaskTypes", "installed"]

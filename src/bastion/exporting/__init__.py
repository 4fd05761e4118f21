"""Export formats (plugins): what each encodes and how; the export pipeline is services/exports.py.

Inside out: ``base`` (ExportFormat, Encoding, the registry), then one module per
family of encoders — ``jsonrows`` (JSON Lines, JSON), ``parquet``, ``coco``,
``conll``, ``labelstudio`` — and ``builtin``, which registers them through the
``bastion_export_formats`` hook like any plugin.
"""

from .base import LOSSLESS, ROW_OPTIONS, Encoding, ExportFormat, ExportFormats, PageEncoding, installed

__all__ = ["LOSSLESS", "ROW_OPTIONS", "Encoding", "ExportFormat", "ExportFormats", "PageEncoding", "installed"]

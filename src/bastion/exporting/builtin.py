"""The built-in export formats, registered through the same hook as third-party plugins."""

from .coco import COCO
from .conll import CONLL
from .jsonrows import DPO, JSON, JSONL, SFT, SPACY
from .labelstudio import LABEL_STUDIO
from .parquet import PARQUET
from ..plugins import hookimpl


@hookimpl
def bastion_export_formats():
    return [JSONL, JSON, PARQUET, SFT, DPO, SPACY, COCO, CONLL, LABEL_STUDIO]

"""The built-in export formats, registered through the same hook as third-party plugins."""

from ..plugins import hookimpl
from .coco import COCO
from .conll import CONLL
from .jsonrows import DPO, JSON, JSONL, SFT, SPACY
from .labelstudio import LABEL_STUDIO
from .parquet import PARQUET


@hookimpl
def bastion_export_formats():
    return [JSONL, JSON, PARQUET, SFT, DPO, SPACY, COCO, CONLL, LABEL_STUDIO]

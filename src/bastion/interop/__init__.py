"""Other tools' files, read and written: pure cores over the task types (no I/O of their own).

``labelstudio`` — Label Studio's labelling configs and JSON exports.
"""

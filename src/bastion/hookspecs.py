"""Plugin hooks (pluggy). Built-ins register through them exactly like third-party packages.

A package extends Bastion by exposing an entry point in the ``bastion`` group that
names a module implementing some of these hooks (decorated with
``bastion.plugins.hookimpl``). docs/plugins.md has an example of each.
"""

import pluggy

hookspec = pluggy.HookspecMarker("bastion")


@hookspec
def bastion_task_types():
    """Return a list of TaskType objects this plugin provides."""


@hookspec
def bastion_key_providers():
    """Return a dict of key provider name -> factory(settings) returning a KeyProvider."""


@hookspec
def bastion_blob_stores():
    """Return a dict of blob store name -> factory(settings) returning a BlobStore (storage/blobs.py)."""


@hookspec
def bastion_export_formats():
    """Return a list of bastion.exporting.ExportFormat objects this plugin provides."""


@hookspec
def bastion_job_kinds():
    """Return a list of job kinds (bastion.services.job_kinds.JobKind) this plugin provides: long work
    the jobs runner runs in resumable chunks (docs/jobs.md)."""

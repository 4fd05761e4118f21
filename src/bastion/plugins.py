"""The plugin manager: built-in plugins first, then packages' ``bastion`` entry points."""

from __future__ import annotations

import functools

import pluggy

from . import hookspecs

hookimpl = pluggy.HookimplMarker("bastion")

DEFAULT_PLUGINS = (
    "bastion.tasktypes.builtin",
    "bastion.storage.blobs",
    "bastion.exporting.builtin",
    "bastion.services.job_kinds",
    "bastion.services.prelabel",
)


@functools.cache
def plugin_manager() -> pluggy.PluginManager:
    import importlib

    pm = pluggy.PluginManager("bastion")
    pm.add_hookspecs(hookspecs)
    for name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(name), name=name)
    pm.load_setuptools_entrypoints("bastion")
    return pm


def key_provider_factory(name: str):
    from .domain.errors import InvalidConfig

    for provided in plugin_manager().hook.bastion_key_providers():
        if provided and name in provided:
            return provided[name]
    raise InvalidConfig(
        f"key_provider: no key provider named {name!r} "
        "(built in: file, passphrase, pkcs11, aws-kms, gcp-kms, vault-transit)"
    )


def blob_store_factory(name: str):
    from .domain.errors import InvalidConfig

    for provided in plugin_manager().hook.bastion_blob_stores():
        if provided and name in provided:
            return provided[name]
    raise InvalidConfig(f"blob_store: no blob store named {name!r} (built in: disk, s3)")

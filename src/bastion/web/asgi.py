"""ASGI entry point for ``bastion serve`` workers: settings come from the environment."""

from ..settings import Settings
from .app import create_app


def app_factory():
    return create_app(settings=Settings())

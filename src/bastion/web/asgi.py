"""ASGI entry point for ``bastion serve`` workers: settings come from the environment."""

from .app import create_app
from ..settings import Settings


def app_factory():
    return create_app(settings=Settings())

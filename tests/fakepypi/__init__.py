"""A fake PyPI for integration tests: declarative projects, a real HTTP server, fault switches.

from fakepypi import FakePyPI, FileSpec, ProjectSpec, Universe

universe = Universe([ProjectSpec("Foo.Bar", {"1.0": [FileSpec("wheel"), FileSpec("sdist")]})])
with FakePyPI(universe) as pypi:
    ...  # pypi.url is the `master` to mirror from
"""

from .model import (
    Artifact,
    ChangelogEvent,
    FileSpec,
    ProjectSpec,
    ProjectState,
    StoredFile,
    Universe,
    UnknownProject,
    make_small_universe,
    make_universe,
)
from .pages import JSON_TYPE, negotiate
from .server import INVALID_NAMES, FakePyPI, RequestLog, RequestRecord, serve

__all__ = [
    "INVALID_NAMES",
    "JSON_TYPE",
    "Artifact",
    "ChangelogEvent",
    "FakePyPI",
    "FileSpec",
    "ProjectSpec",
    "ProjectState",
    "RequestLog",
    "RequestRecord",
    "StoredFile",
    "Universe",
    "UnknownProject",
    "make_small_universe",
    "make_universe",
    "negotiate",
    "serve",
]

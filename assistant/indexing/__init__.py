"""Indexing: the shared prepare/embed pipeline, its local and Ray runners, and the build.

`pipeline` holds the steps both runners share; `local` and `ray_runner` each import it and
never each other; `build` plans a build, picks the runner and writes the snapshot.
"""

from assistant.indexing.build import Progress, build_index, remove_document, sync_source
from assistant.sources import find_files

__all__ = ["Progress", "build_index", "find_files", "remove_document", "sync_source"]

"""Sources: where documents come from (folders, websites), behind one Protocol the indexer syncs."""

from assistant.sources.folder import FolderSource, find_files
from assistant.sources.protocol import Fetched, ItemChangedError, Listing, Source, SourceItem

__all__ = ["Fetched", "FolderSource", "ItemChangedError", "Listing", "Source", "SourceItem", "find_files"]

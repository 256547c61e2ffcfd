"""The model registry of a deploy app: immutable, checksummed model versions and a history log deciding which
one is current, in a local folder or the deploy app's Carol storage.

Modules, each one concept, each using only those listed before it:
    names       plain names, the layout of files in a store, the one way registry files are written
    checksums   a version's checksum manifest and the reads checked against it
    history     the history log, the current version it decides, and the derived `current` and `model.pkl`
    versions    publishing, listing, rolling back to and loading versions
    retention   which versions a clean-up may remove (never the served one nor the one before it), and removing them

Everything outside the registry imports from here.
"""

from carolbatch.registry.checksums import verify_version
from carolbatch.registry.history import current_chain, read_current_version, read_history, repair_pointers
from carolbatch.registry.names import (HISTORY_FILE, MANIFEST_FILE, METADATA_FILE, MODEL_FILE, POINTER_FILE,
                                       RegistryError, registry_name)
from carolbatch.registry.retention import (incomplete_versions, protected_versions, removable_versions,
                                           remove_version)
from carolbatch.registry.versions import (CurrentModel, current_feature_columns, has_version, list_version_ids,
                                          list_versions, load_current, load_current_model, make_version_id,
                                          publish_model, read_current_marker, read_version_metadata,
                                          rollback_model)

__all__ = [
    "HISTORY_FILE", "MANIFEST_FILE", "METADATA_FILE", "MODEL_FILE", "POINTER_FILE", "CurrentModel", "RegistryError",
    "current_chain", "current_feature_columns", "has_version", "incomplete_versions", "list_version_ids", "list_versions",
    "load_current", "load_current_model", "make_version_id", "protected_versions", "publish_model",
    "read_current_marker", "read_current_version", "read_history", "read_version_metadata", "registry_name",
    "removable_versions", "remove_version", "repair_pointers", "rollback_model", "verify_version",
]

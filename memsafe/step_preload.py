"""Imported once by a multiprocess executor's forkserver, so the step processes forked from it start warm.

A step process opens the Dagster instance before it runs its step. Opening it imports the
storage, run-launcher and compute-log classes that ``$DAGSTER_HOME/dagster.yaml`` names, with
SQLAlchemy's dialects, alembic and upath: about 500 modules and 0.9 s of CPU, paid by every step
while it holds its pool slot (measured on 2 cores, 2026-12-02). Importing this module in the
forkserver (``start_method: {forkserver: {preload_modules: [..., "memsafe.step_preload"]}}``)
pays that once: each forked step inherits the modules. It only imports: it opens no database, no
file and no thread, so forking after it is safe.

Without ``$DAGSTER_HOME`` (an ephemeral instance), or when a class cannot be imported, nothing is
preloaded and the step imports what it needs itself, as before.
"""

from __future__ import annotations

import contextlib
import importlib
import os

# Imported by DagsterInstance.from_ref whatever the storage (secrets loader, upath for the
# compute-log manager's paths).
_ALWAYS = ("dagster._core.secrets.env_file", "upath", "fsspec.implementations.local", "dotenv")


def preload_instance_modules(home: str | None = None) -> list[str]:
    """Import the classes the instance in ``home`` (default ``$DAGSTER_HOME``) is configured with.

    Returns the module names imported; reads ``dagster.yaml`` only, connecting to nothing.
    """
    home = home or os.environ.get("DAGSTER_HOME")
    names = list(_ALWAYS)
    if home and os.path.isdir(home):
        from dagster._core.instance.ref import InstanceRef
        from dagster._serdes.config_class import ConfigurableClassData

        with contextlib.suppress(Exception):  # a broken dagster.yaml is the step's to report
            ref = InstanceRef.from_dir(home)
            names += [v.module_name for v in ref._asdict().values() if isinstance(v, ConfigurableClassData)]
    loaded = []
    for name in dict.fromkeys(names):
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
            loaded.append(name)
    return loaded


PRELOADED = preload_instance_modules()

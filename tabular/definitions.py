"""The ``tabular`` code location: the streaming daily summary of Kubernetes pod usage
(:mod:`tabular.pod_usage`); the loading/split assets of tabular training data join it.

The fragment's module is imported, not its ``defs`` object: Dagster refuses a module with two
``Definitions`` objects at module scope.
"""

from tabular.pod_usage import definitions as pod_usage_definitions

defs = pod_usage_definitions.defs

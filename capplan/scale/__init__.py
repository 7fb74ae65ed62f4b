"""Scale: raw request logs to histories, and scenario sweeps on a Dask cluster.

``aggregate_logs`` streams log files through DuckDB (embedded); ``sweep``
runs many simulations or plan checks on Dask distributed, locally or on a
cluster. Both engines are imported only when these functions are called.
"""

from capplan.scale.logs import aggregate_logs
from capplan.scale.sweep import sweep

__all__ = ["aggregate_logs", "sweep"]

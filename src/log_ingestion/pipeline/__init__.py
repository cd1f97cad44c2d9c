"""The pipeline: each planned window's pages filtered, parsed, written and committed.

`run` is a run over many logs, grouped into lanes; `lane` reads a lane's logs block by
block, counts first, by as few queries as the counts allow; `cut` cuts a query's event
stream into units per log (`dedup` filters it first); `window` parses, writes and commits
a unit; `overlap` owns every thread; `verify` the completeness check; `observe` what the
outside sees.
"""

from log_ingestion.pipeline.observe import Observer, Progress, WindowDone
from log_ingestion.pipeline.run import LogPlan, LogSummary, Pipeline, PipelineOptions, RunSummary

__all__ = [
    "LogPlan",
    "LogSummary",
    "Observer",
    "Pipeline",
    "PipelineOptions",
    "Progress",
    "RunSummary",
    "WindowDone",
]

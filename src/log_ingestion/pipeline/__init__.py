"""The pipeline: each planned window's pages filtered, parsed, written and committed.

`window` is the sequential step; `overlap` owns every thread; `verify` the completeness
check; `observe` what the outside sees; `run` a run over many logs.
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

"""Small values passed between the pipeline's stages."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True, order=True)
class Window:
    """A half-open time range `[start_ms, end_ms)` in epoch milliseconds."""

    start_ms: int
    end_ms: int

    def __post_init__(self) -> None:
        if self.end_ms <= self.start_ms:
            raise ValueError(f"empty window [{self.start_ms}, {self.end_ms})")

    def contains(self, timestamp_ms: int) -> bool:
        return self.start_ms <= timestamp_ms < self.end_ms


@dataclass(frozen=True, slots=True)
class LogInfo:
    """A log as the management API describes it."""

    id: str
    name: str
    logsets: tuple[str, ...] = ()


@dataclass(slots=True)
class EventPage:
    """One page of events from the API, already split into columns.

    `sequence_numbers` are exact: taken from `sequence_number_str`, never from the
    JSON number that a float-based parser may have rounded.
    """

    timestamps: list[int] = field(default_factory=list)
    sequence_numbers: list[int] = field(default_factory=list)
    log_ids: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    labels: list[list[str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.timestamps)

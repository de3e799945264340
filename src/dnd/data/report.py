"""Bad-record bookkeeping shared by every loader (paired 3D sources and downstream tasks).

Real chemistry files always hold a few records that cannot be used (unparsable SMILES, radicals
left by a converter, a NaN label). A loader must neither crash a long run on them nor drop them
silently, so each one is recorded with the file, the row/record and the reason; in `strict` mode
the first one stops the run instead.

API (small on purpose):
- `RecordError(reason)`: raise it from per-record code; the loader turns it into a report entry.
- `DataFileError`: the whole file is unusable (missing, empty, missing column); always raised.
- `Report(strict=False)`: `.ok(n)`, `.bad(file, record, reason)`, `.n_ok`, `.n_bad`, `.entries`,
  `.reasons()`, `.summary()`, `.extend(other)`, `.to_dict()` / `Report.from_dict()` (cache-safe).
- `BadRecordError`: what `.bad()` raises in strict mode (message names file, record, reason).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from dnd.errors import UserError


class RecordError(UserError, ValueError):
    """One input record cannot be used; the message is the human-readable reason."""


class DataFileError(UserError, ValueError):
    """A whole input file is unusable (missing, empty, lacks a required column)."""


class BadRecordError(UserError, ValueError):
    """Raised in strict mode at the first bad record."""


@dataclass(frozen=True)
class BadRecord:
    file: str
    record: str   # e.g. "row 17" or "record 198 (line 3021)"
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.record}: {self.reason}"


@dataclass
class Report:
    """Counts of used and skipped records plus the skipped ones themselves."""

    strict: bool = False
    n_ok: int = 0
    entries: list[BadRecord] = field(default_factory=list)

    @property
    def n_bad(self) -> int:
        return len(self.entries)

    def ok(self, n: int = 1) -> None:
        self.n_ok += n

    def bad(self, file: str, record: str, reason: str) -> None:
        entry = BadRecord(str(file), str(record), str(reason))
        if self.strict:
            raise BadRecordError(f"{entry} (strict mode: stopping)")
        self.entries.append(entry)

    def extend(self, other: "Report") -> None:
        self.n_ok += other.n_ok
        self.entries.extend(other.entries)

    def reasons(self) -> Counter:
        """How often each kind of problem occurred (reason text up to the first ':')."""
        return Counter(e.reason.split(":")[0] for e in self.entries)

    def summary(self, max_lines: int = 10) -> str:
        """Multi-line text: totals, most common reasons, and the first `max_lines` bad records."""
        total = self.n_ok + self.n_bad
        lines = [f"{self.n_ok} of {total} records used, {self.n_bad} skipped"]
        for reason, count in self.reasons().most_common(5):
            lines.append(f"  {count:6d} x {reason}")
        for entry in self.entries[:max_lines]:
            lines.append(f"  skipped {entry}")
        if self.n_bad > max_lines:
            lines.append(f"  ... and {self.n_bad - max_lines} more")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """Plain lists/ints only, so it can sit in a weights_only torch file."""
        return {"n_ok": self.n_ok,
                "entries": [[e.file, e.record, e.reason] for e in self.entries]}

    @classmethod
    def from_dict(cls, d: dict, strict: bool = False) -> "Report":
        return cls(strict=strict, n_ok=int(d["n_ok"]),
                   entries=[BadRecord(*e) for e in d["entries"]])

"""`results.sqlite`: one row per (task, config, seed) of a sweep, committed as each run ends.

The row's `state` is pending → running → finished | crashed. A finished row holds every
`summary.json` field as a column of the same name (`tokens` as JSON text) and is written only
after the run's summary.json exists, so a killed sweep never records a result it does not have
and never loses one it recorded (WAL journal, one transaction per change).
"""

from __future__ import annotations

import json
import sqlite3
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from budgetml.errors import BudgetMLError
from budgetml.summary import RunSummary

RunState = Literal["pending", "running", "finished", "crashed"]

_ROW_COLUMNS = """
    task TEXT NOT NULL,
    config TEXT NOT NULL,
    seed INTEGER NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    run_dir TEXT NOT NULL,
    task_ref TEXT NOT NULL,
    config_ref TEXT NOT NULL,
    config_sha256 TEXT NOT NULL,
    budget_usd REAL,
    charged_usd REAL NOT NULL DEFAULT 0,
    started_at REAL,
    finished_at REAL,
    duration_s REAL,
    crash TEXT,
    PRIMARY KEY (task, config, seed)
"""
_KEY_FIELDS = ("task", "config", "seed")
SUMMARY_FIELDS = tuple(name for name in RunSummary.model_fields if name not in _KEY_FIELDS)


@dataclass(frozen=True)
class RunKey:
    task: str
    config: str
    seed: int

    def __str__(self) -> str:
        return f"{self.task} · {self.config} · seed {self.seed}"


@dataclass(frozen=True)
class RunRecord:
    """One row: where the run stands, what it cost across attempts, and its summary if finished.

    `run_dir` is relative to the folder holding results.sqlite, so a sweep folder can be moved.
    """

    key: RunKey
    state: RunState
    attempts: int
    run_dir: str
    task_ref: str
    config_ref: str
    config_sha256: str
    budget_usd: float | None
    charged_usd: float
    started_at: float | None
    finished_at: float | None
    duration_s: float | None
    crash: str | None
    summary: RunSummary | None


class ResultStore:
    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        """`read_only`: for reports and reproductions, which must leave a committed sweep's
        file as it is (a writer adds the columns of newer summary fields on open)."""
        self.path = path
        try:
            if read_only:
                self._db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
                self._db.row_factory = sqlite3.Row
                self._db.execute("SELECT 1 FROM runs LIMIT 1")
                return
            self._db = sqlite3.connect(path, timeout=30)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            with self._db:
                self._db.execute(f"CREATE TABLE IF NOT EXISTS runs ({_ROW_COLUMNS})")
                self._add_summary_columns()
        except sqlite3.DatabaseError as exc:
            raise BudgetMLError(f"{path} is not a usable results database: {exc}") from None

    def _add_summary_columns(self) -> None:
        """Summary fields become columns; ones added to RunSummary later are added here."""
        present = {row["name"] for row in self._db.execute("PRAGMA table_info(runs)")}
        for name in SUMMARY_FIELDS:
            if name not in present:
                kind = _sql_type(RunSummary.model_fields[name].annotation)
                self._db.execute(f"ALTER TABLE runs ADD COLUMN {name} {kind}")

    def register(
        self, key: RunKey, run_dir: str, task_ref: str, config_ref: str, config_sha256: str
    ) -> RunRecord:
        """The row for `key`, created pending if new; refuses a changed config for finished runs."""
        existing = self.get(key)
        if existing is None:
            with self._db:
                self._db.execute(
                    "INSERT INTO runs (task, config, seed, state, run_dir, task_ref, config_ref,"
                    " config_sha256) VALUES (?, ?, ?, 'pending', ?, ?, ?, ?)",
                    (key.task, key.config, key.seed, run_dir, task_ref, config_ref, config_sha256),
                )
            record = self.get(key)
            assert record is not None
            return record
        if existing.state == "finished" and existing.config_sha256 != config_sha256:
            raise BudgetMLError(
                f"config {key.config!r} differs from the one the finished runs in "
                f"{self.path.parent} used; keep it unchanged to resume, or pick a new --out"
            )
        if existing.config_sha256 != config_sha256:
            self._update(key, config_sha256=config_sha256, config_ref=config_ref)
        return self.get(key) or existing

    def get(self, key: RunKey) -> RunRecord | None:
        row = self._db.execute(
            "SELECT * FROM runs WHERE task = ? AND config = ? AND seed = ?",
            (key.task, key.config, key.seed),
        ).fetchone()
        return None if row is None else _from_row(row)

    def records(self) -> list[RunRecord]:
        rows = self._db.execute("SELECT * FROM runs ORDER BY task, config, seed").fetchall()
        return [_from_row(row) for row in rows]

    def mark_running(self, key: RunKey, budget_usd: float | None, started_at: float) -> None:
        with self._db:
            self._db.execute(
                "UPDATE runs SET state = 'running', attempts = attempts + 1, budget_usd = ?,"
                " started_at = ?, finished_at = NULL, duration_s = NULL, crash = NULL"
                " WHERE task = ? AND config = ? AND seed = ?",
                (budget_usd, started_at, key.task, key.config, key.seed),
            )

    def mark_finished(
        self, key: RunKey, summary: RunSummary, finished_at: float, duration_s: float | None
    ) -> None:
        """Record a run whose summary.json exists; what it charged adds to earlier attempts'."""
        values = summary.model_dump()
        fields = {name: values[name] for name in SUMMARY_FIELDS}
        fields["tokens"] = json.dumps(fields["tokens"], sort_keys=True)
        self._update(
            key,
            state="finished",
            finished_at=finished_at,
            duration_s=duration_s,
            crash=None,
            charged_usd=self._charged(key) + summary.spent_usd,
            **fields,
        )

    def mark_crashed(
        self, key: RunKey, crash: str, charged_usd: float, finished_at: float, duration_s: float
    ) -> None:
        self._update(
            key,
            state="crashed",
            crash=crash,
            finished_at=finished_at,
            duration_s=duration_s,
            charged_usd=self._charged(key) + charged_usd,
        )

    def add_charge(self, key: RunKey, usd: float) -> None:
        """Money an interrupted attempt spent, found in its trace when the sweep resumes."""
        self._update(key, charged_usd=self._charged(key) + usd)

    def close(self) -> None:
        self._db.close()

    def _charged(self, key: RunKey) -> float:
        record = self.get(key)
        return 0.0 if record is None else record.charged_usd

    def _update(self, key: RunKey, **columns: Any) -> None:
        assignments = ", ".join(f"{name} = ?" for name in columns)
        with self._db:
            self._db.execute(
                f"UPDATE runs SET {assignments} WHERE task = ? AND config = ? AND seed = ?",
                (*columns.values(), key.task, key.config, key.seed),
            )


def _added_later(name: str, value: object) -> bool:
    """A column added after the run was recorded is NULL there (or missing, read-only): the
    field's default stands (best_success is False, not None, for a run recorded before it)."""
    field = RunSummary.model_fields[name]
    return value is None and not field.is_required() and field.default is not None


def _from_row(row: sqlite3.Row) -> RunRecord:
    key = RunKey(row["task"], row["config"], int(row["seed"]))
    summary = None
    if row["state"] == "finished":
        columns = set(row.keys())
        found = {name: row[name] if name in columns else None for name in SUMMARY_FIELDS}
        data = {name: value for name, value in found.items() if not _added_later(name, value)}
        data["tokens"] = json.loads(data["tokens"] or "{}")
        summary = RunSummary.model_validate(
            {**data, "task": key.task, "config": key.config, "seed": key.seed}
        )
    return RunRecord(
        key=key,
        state=row["state"],
        attempts=row["attempts"],
        run_dir=row["run_dir"],
        task_ref=row["task_ref"],
        config_ref=row["config_ref"],
        config_sha256=row["config_sha256"],
        budget_usd=row["budget_usd"],
        charged_usd=row["charged_usd"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        duration_s=row["duration_s"],
        crash=row["crash"],
        summary=summary,
    )


def _sql_type(annotation: Any) -> str:
    """The SQLite column type for a summary field (dicts are stored as JSON text)."""
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    kinds = [a for a in typing.get_args(annotation) if a is not type(None)] if union else []
    kind = kinds[0] if len(kinds) == 1 else annotation
    if kind is bool or kind is int:
        return "INTEGER"
    if kind is float:
        return "REAL"
    return "TEXT"

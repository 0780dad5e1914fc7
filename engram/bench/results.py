"""The files of a benchmark run and what every run records about itself.

``--out`` holds:

* ``questions.jsonl``: one record per (system, question), appended as soon as it is
  measured, so an interrupted run resumes where it stopped (finished pairs are skipped);
* ``ingest.jsonl``: one record per (system, conversation): turns, seconds, store size;
* ``run.json``: the settings that make records comparable (data checksum, k, budgets,
  recipe, embedder, reader); a rerun with other settings is refused unless ``--fresh``;
* ``summary.json``, ``report.md`` and the PNG plots (written by :mod:`engram.bench.report`).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engram.errors import ValidationError

QUESTIONS_FILE = "questions.jsonl"
INGEST_FILE = "ingest.jsonl"
RUN_FILE = "run.json"


class ResultFiles:
    """Append-only JSONL records of a run, safe to write from several threads."""

    def __init__(self, out: Path, fingerprint: Mapping[str, Any], *, fresh: bool = False) -> None:
        self.out = out
        out.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        run_file = out / RUN_FILE
        #: Earlier invocations that wrote to this folder (when, command, wall time, questions run).
        self.history: list[dict[str, Any]] = []
        if fresh:
            for name in (QUESTIONS_FILE, INGEST_FILE, RUN_FILE):
                (out / name).unlink(missing_ok=True)
        elif run_file.exists():
            earlier = json.loads(run_file.read_text(encoding="utf-8"))
            self.history = list(earlier.get("history", []))
            previous = earlier.get("fingerprint", {})
            changed = sorted(
                key for key in {*previous, *fingerprint} if previous.get(key) != fingerprint.get(key)
            )
            if changed:
                raise ValidationError(
                    f"{out} holds results of a run with other settings ({', '.join(changed)}); "
                    "use another --out, or --fresh to discard them"
                )
        self.questions = _read_jsonl(out / QUESTIONS_FILE)
        self.ingests = _read_jsonl(out / INGEST_FILE)
        self.done = {(r["system"], r["question_id"]) for r in self.questions}
        self.ingested = {(r["system"], r["conversation_id"]) for r in self.ingests}

    def add_question(self, record: Mapping[str, Any]) -> None:
        """Append one question record (and remember it as done)."""
        with self._lock:
            _append(self.out / QUESTIONS_FILE, record)
            self.questions.append(dict(record))
            self.done.add((record["system"], record["question_id"]))

    def add_ingest(self, record: Mapping[str, Any]) -> None:
        """Append the ingest record of one (system, conversation), once."""
        with self._lock:
            key = (record["system"], record["conversation_id"])
            if key in self.ingested:
                return
            _append(self.out / INGEST_FILE, record)
            self.ingests.append(dict(record))
            self.ingested.add(key)

    def write_run(self, run: Mapping[str, Any]) -> None:
        """Write ``run.json`` (atomically)."""
        write_json(self.out / RUN_FILE, run)


def write_json(path: Path, value: Any) -> None:
    """Write JSON through a temporary file, so a reader never sees half a file."""
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(json.dumps(value, indent=2, sort_keys=False, default=str) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def _append(path: Path, record: Mapping[str, Any]) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        handle.flush()


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The records of a JSONL file; a line cut short by a crash (the last one) is ignored."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


# -- provenance -----------------------------------------------------------------------------


def code_version() -> dict[str, Any]:
    """Engram's version and, when run from a git checkout, the commit and whether it is dirty."""
    import engram

    info: dict[str, Any] = {"engram": engram.__version__}
    root = Path(engram.__file__).resolve().parents[1]
    if (root / ".git").exists():
        commit = _git(root, "rev-parse", "HEAD")
        status = _git(root, "status", "--porcelain", "--", "engram")  # the package, new files included
        if commit:
            info["git_commit"] = commit
            info["git_dirty"] = bool(status)
    return info


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "processor": _cpu_model() or platform.processor(),
        "cpus": os.cpu_count(),
    }
    if hasattr(os, "sched_getaffinity"):
        info["cpus_usable"] = len(os.sched_getaffinity(0))
    memory = _total_memory()
    if memory:
        info["memory_gb"] = round(memory / 2**30, 1)
    for module in ("numpy", "onnxruntime", "tokenizers", "bm25s"):
        try:
            info[module] = __import__(module).__version__
        except Exception:  # not installed, or no version attribute
            continue
    return info


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def _total_memory() -> int | None:
    try:
        import psutil

        return int(psutil.virtual_memory().total)
    except ImportError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def peak_rss_bytes() -> int | None:
    """The peak resident memory of this process so far."""
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak) if sys.platform == "darwin" else int(peak) * 1024
    except (ImportError, OSError):
        pass
    try:
        import psutil

        info = psutil.Process().memory_info()
        return int(getattr(info, "peak_wset", info.rss))
    except ImportError:
        return None


def cpu_seconds() -> float | None:
    """User plus system CPU time of this process so far (less sensitive than wall time to a busy machine)."""
    try:
        import resource

        usage = resource.getrusage(resource.RUSAGE_SELF)
        return float(usage.ru_utime + usage.ru_stime)
    except (ImportError, OSError):
        return None


def load_average() -> list[float] | None:
    """The machine's 1, 5 and 15 minute load averages (other work competing for the cores)."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except (AttributeError, OSError):
        return None

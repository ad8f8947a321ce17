"""The end-of-run table: one row per pair with its result, timings, size, sha256 and destination.

A cell holds a word or a number, never a sentence, so that a row fits a terminal: what needs a
sentence (why a pair failed, where its log is, why pairs were skipped) goes in lines under the table.

Registered as a pytest plugin by conftest. It reads what each pair recorded with record_property,
which xdist carries from the workers to the controller, so the table is the same with -n N.
"""

import re
import textwrap

from . import redact

LOG_TAIL_LINES = 5
WIDTH = 116  # the lines under the table that list pairs are wrapped at this width


class Summary:
    def __init__(self, dry_run: bool, bucket_named: bool):
        self.dry_run, self.bucket_named = dry_run, bucket_named
        self.rows = {}  # nodeid -> row

    def pytest_runtest_logreport(self, report):
        if hasattr(report, "context") or "pair" not in report.keywords:
            return  # a subtest's own report, or not a pair
        props = dict(report.user_properties)
        row = self.rows.setdefault(report.nodeid, {"pair": report.nodeid.rsplit("[", 1)[-1].rstrip("]"),
                                                   "result": "", "props": {}})
        row["props"].update(props)
        if report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            row["result"] = "skipped"
            row["skipped"] = reason.removeprefix("Skipped: ")
        elif report.failed:
            row["result"] = "FAILED" + (f" ({report.when})" if report.when != "call" else "")
            row.setdefault("reason", _first_line(report.longreprtext))
            # A failed build's message ends with its log's tail (indented): the last lines go in the table too.
            row.setdefault("tail", [redact.redact(line.strip()) for line in report.longreprtext.splitlines()
                                    if line.startswith("    ")][-LOG_TAIL_LINES:])
        elif report.when == "call" and not row["result"]:
            row["result"] = f"would {props['plan']}" if "plan" in props else "passed"

    def pytest_terminal_summary(self, terminalreporter):
        if not self.rows:
            return
        tr = _Redacted(terminalreporter)
        tr.section("runtimes", sep="=")
        header = ("pair", "result", "build", "verify", "checks", "size", "sha256")
        lines = []
        for row in self.rows.values():
            p = row["props"]
            build = "reused" if p.get("reused") else _seconds(p.get("time_build"))
            size = f"{p['size'] / 1e6:.1f} MB" if "size" in p else "-"
            if "plan" in p:  # --plan: the cache key (as the archive's name shortens it) in place of its sha256
                key = p["cache_key"]  # else a phrase: the images it comes from are made first
                key = key[:16] if re.fullmatch(r"[0-9a-f]{64}", key) else "after set-up"
                lines.append((row["pair"], row["result"], "-", "-", "-", "-", f"key {key}"))
                continue
            verify = "reused" if p.get("verify_reused") else _seconds(p.get("time_verify"))
            lines.append((row["pair"], row["result"] or "?", build, verify,
                          p.get("checks", "-"), size, p.get("sha256", "-")))
        widths = [max(len(str(line[i])) for line in [header, *lines]) for i in range(len(header))]
        for line in [header, *lines]:
            tr.write_line("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths)).rstrip())
        for row in self.rows.values():
            p = row["props"]
            details = [("archive", p.get("archive")), ("log", p.get("log")), ("phases", p.get("phases")), ("CPU", p.get("cpu")), ("PGO", p.get("pgo")),
                       ("S3", p.get("published"))]
            details.insert(0, ("failed", row.get("reason")))
            details.insert(1, ("EOL", p.get("end_of_life")))
            shown = [f"    {label}: {value}" for label, value in details if value]
            if row.get("tail"):
                shown[1:1] = ["    log tail:"] + [f"      | {line}" for line in row["tail"]]
            if shown:
                tr.write_line(f"  {row['pair']}")
                for line in shown:
                    tr.write_line(line)
        skipped = {}  # reason -> the pairs skipped for it, each reason said once
        for row in self.rows.values():
            if row.get("skipped"):
                skipped.setdefault(row["skipped"], []).append(row["pair"])
        for reason, pairs in skipped.items():
            tr.write_line(f"  skipped: {reason}")
            for line in textwrap.wrap(", ".join(pairs), WIDTH, initial_indent="    ", subsequent_indent="    ",
                                      break_on_hyphens=False):
                tr.write_line(line)
        if self.dry_run and not all("plan" in row["props"] for row in self.rows.values()):
            where = "the same keys in that bucket" if self.bucket_named else "the same keys in the bucket S3_BUCKET names"
            tr.write_line(f"dry run: the uploads went to the embedded S3 on loopback; --deploy writes {where}")


def _first_line(text):
    """The message of a one-line failure (pytest.fail with pytrace=False), else the error's line."""
    # Under xdist a report starts with the worker's "[gw0] linux -- Python ..." line: not the message.
    lines = [line for line in text.splitlines() if line.strip() and not re.match(r"\[gw\d+\] ", line)]
    errors = [line[1:].strip() for line in lines if line.startswith("E ")]
    # Redacted before it is cut: a secret cut in two would no longer be found whole.
    return redact.redact(errors[0] if errors else lines[0] if lines else "").removeprefix("Failed: ")[:300]


class _Redacted:
    """The terminal reporter, with every line of the table redacted (harness/redact.py): the
    table repeats failure messages and log tails, which quote other tools' text."""

    def __init__(self, reporter):
        self.reporter = reporter

    def section(self, *args, **kwargs):
        self.reporter.section(*args, **kwargs)

    def write_line(self, line, **kwargs):
        self.reporter.write_line(redact.redact(line), **kwargs)


def _seconds(value):
    if value is None:
        return "-"
    value = float(value)
    return f"{int(value // 60)}m{int(value % 60):02d}s" if value >= 60 else f"{value:.0f}s"


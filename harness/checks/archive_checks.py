"""The checks that read the archive and the build log on the host; no container involved.

- hygiene: the archive's entries, as tar lists them (paths relative and staying inside, owned by
  root, no setuid bits, no test folders or static libraries left over, bin/python3 present);
- the build log: modules CPython's build reported as missing or failed (build_log_check).

verify.verify runs them before verify.runtime_checks, which runs the checks that need the stack's images.
"""

from pathlib import Path

from .. import archive as archive_mod
from .check import Check

LOG_FAILURE_PATTERNS = (
    "Failed to build these modules",
    "necessary bits to build these optional modules were not found",
    "Following modules built successfully but were removed because they could not be imported",
    "Could not build the ssl module",
)
# Left out by builds/build-python.sh on purpose (no Tcl/Tk or libnsl in server run images).
LEFT_OUT_ON_PURPOSE = {"_tkinter", "nis"}


def hygiene_checks(archive: Path) -> list[Check]:
    members = archive_mod.members(archive)
    names = [m.name for m in members]
    problems = {  # check name -> offending entries
        "archive_paths_relative": [n for n in names if n.startswith("/") or ".." in n.split("/")],
        "archive_no_test_folders": [n for n in names if set(n.split("/")) & {"test", "tests", "idle_test"}],
        "archive_no_static_libraries": [n for n in names if n.endswith(".a")],
        "archive_no_setuid_bits": [m.name for m in members if m.mode & 0o6000],
        "archive_owned_by_root": [m.name for m in members if (m.uid, m.gid) != (0, 0)],
        "archive_links_stay_inside": [m.name for m in members if m.issym() and _leaves_tree(m)],
    }
    checks = [Check(name, not found, f"all {len(names)} entries" if not found else f"{len(found)}: {', '.join(found[:5])}")
              for name, found in problems.items()]
    has_binary = "bin/python3" in names
    checks.append(Check("archive_has_bin_python3", has_binary, "bin/python3 present" if has_binary else "missing"))
    return checks


def _leaves_tree(member):
    target = member.linkname
    if target.startswith("/"):
        return True
    depth = len(member.name.split("/")) - 1
    for part in target.split("/"):
        depth += -1 if part == ".." else (0 if part in ("", ".") else 1)
        if depth < 0:
            return True
    return False


def build_log_check(log_path: Path) -> Check:
    """Each report of modules missing, failed or removed, with the modules it lists; the modules
    we leave out on purpose do not count. (3.9's setup.py lists _tkinter as missing even though
    Modules/Setup.local disables it: its detect_tkinter() does not consult the disabled list.)"""
    lines = log_path.read_text(errors="replace").splitlines() if log_path.exists() else []
    hits = []
    for number, line in enumerate(lines):
        pattern = next((p for p in LOG_FAILURE_PATTERNS if p in line), None)
        if pattern is None:
            continue
        listed = _listed_modules(lines[number + 1:])
        if pattern != "Could not build the ssl module" and listed and set(listed) <= LEFT_OUT_ON_PURPOSE:
            continue
        hits.append(f"{line.strip()} {', '.join(listed)}".strip())
    return Check("build_log_reports_no_missing_modules", not hits, "; ".join(hits[:3]) or "clean")


def _listed_modules(following: list[str]) -> list[str]:
    """The module names CPython prints in columns under such a report, up to a blank line."""
    names = []
    for line in following:
        if not line.strip() or line.startswith("To find the necessary bits"):
            break
        names += line.split()
    return names

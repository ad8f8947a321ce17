"""What every verification check returns, and where the tree under test sits in its containers.

A module of its own so that verify.py, which runs the containers, and the modules that define
checks (archive_checks, elf_checks, cext_check) share them without importing one another.
"""

from dataclasses import dataclass

# Where verify.runtime_checks mounts the extracted archive in every container it runs: a path
# other than the one the runtime was built at (build.PREFIX), so that relocation is tested too.
VERIFY_PREFIX = "/opt/verify/python"


@dataclass
class Check:
    name: str
    ok: bool
    detail: str

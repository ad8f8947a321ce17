"""An arm64 pair on this amd64 machine (issue 14), for real: the stack's arm64 images bootstrapped
from Debian and labelled arm64, the build under emulation (QEMU through binfmt_misc, registered by
the harness when a foreign pair is asked for), verification in the arm64 run image with every check
an amd64 pair gets plus elf_architecture, and the archive, its record, S3 key and summary all saying
arm64, read from the images and the binaries.

Slow (`make test-slow`): under emulation the compiler runs about 12 times slower than natively
(measured: bench/RESULTS.md), so one quick arm64 build takes a quarter of an hour here."""

import json
import re

import pytest

from harness import emulation
from tests.helpers import run_harness, table_row

pytestmark = [pytest.mark.engine, pytest.mark.build, pytest.mark.slow]

PAIR = "python-3.11.2-debian-12-arm64"


@pytest.mark.skipif(emulation.host_arch() == "arm64", reason="on an arm64 machine this pair is the native one")
def test_an_arm64_pair_builds_and_verifies_on_an_amd64_machine(tmp_path):
    out = tmp_path / "out"
    result = run_harness("test_runtimes.py", "--runtimes", "python-3.11.2", "--stacks", "debian-12", "--arch", "arm64",
                         "--profile", "quick", "--out-dir", str(out))
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    row = table_row(result.stdout, PAIR)
    passed, total = map(int, row[4].split("/"))
    assert row[1] == "passed" and passed == total, row

    [archive] = (out / "archives" / "debian-12" / "arm64").glob("python-3.11.2-quick-*.tar.zst")
    record = json.loads(archive.with_name(archive.name + ".json").read_text())
    assert record["arch"] == "arm64"
    assert record["images"]["build"]["architecture"] == record["images"]["run"]["architecture"] == "arm64"
    assert record["verification"]["elf_architecture"]["ok"]
    assert re.fullmatch(r"\d+ ELF files, all arm64 \(AArch64\)", record["verification"]["elf_architecture"]["detail"])
    # The SBOM's system libraries are the arm64 run image's packages.
    sbom = json.loads(archive.with_name(archive.name + ".cdx.json").read_text())
    purls = [c["purl"] for c in sbom["components"] if c.get("purl", "").startswith("pkg:deb/")]
    assert purls and all("arch=arm64" in purl for purl in purls), purls
    assert (f"S3: published, sha256 {row[-1]}: s3://pyruntimes-dry-run/debian-12/arm64/python-3.11.2.tar.zst"
            in result.stdout), result.stdout[-3000:]
    assert (out / "logs" / f"{PAIR}.log").exists()

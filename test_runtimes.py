"""One case per runtime x stack pair: the pipeline, top to bottom.

    pytest --runtimes python-3.13.15 --stacks debian-12 [--profile quick] [--deploy] [-n 4]
"""

import pytest


def test_runtime(case, subtests):
    if case.ctx.plan_only:  # --plan: say what would be built or reused, do nothing
        case.plan()
        return
    if case.already_published():  # nothing to build; an interrupted publish has been completed
        return
    source = case.fetch_source()
    archive, sha256 = case.build_and_package(source)

    failed = []
    for check in case.verify(archive):
        with subtests.test(msg=check.name):
            if not check.ok:
                failed.append(check.name)
            assert check.ok, f"{check.name}: {check.detail}"
    if failed:
        pytest.fail(f"{len(failed)} verification checks failed ({', '.join(failed)}); not published", pytrace=False)

    if case.formula.candidate:  # a candidate variant is measured (bench/), never published
        case.keep_unpublished(archive)
        return
    case.publish(archive, sha256)

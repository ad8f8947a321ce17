"""The one "is it there" of harness/bucket/s3.py (head_or_none, get_or_none, download_or_none): None
for a key the bucket lacks, the answer for one it holds, and any other error raised, never taken
for "missing". A real moto server over HTTP."""

import pytest

from harness.bucket import s3
from tests.test_publish import endpoint, target  # noqa: F401  (fixtures)

KEY = "runtimes/debian-12/amd64/python-3.13.15.tar.zst.sha256"


@pytest.fixture
def client(target):
    client = s3.client_for(target)
    client.put_object(Bucket=target.bucket, Key=KEY, Body=b"abc  python-3.13.15.tar.zst\n")
    return client


def test_a_key_the_bucket_holds_is_answered(client, target, tmp_path):
    assert s3.head_or_none(client, target.bucket, KEY)["ContentLength"] == 28
    assert s3.get_or_none(client, target.bucket, KEY)["Body"].read() == b"abc  python-3.13.15.tar.zst\n"
    assert s3.get_text(client, target, KEY) == "abc  python-3.13.15.tar.zst\n"
    path = tmp_path / "got"
    assert s3.download_or_none(client, target.bucket, KEY, path) == path
    assert path.read_bytes() == b"abc  python-3.13.15.tar.zst\n"


def test_a_key_the_bucket_lacks_is_none(client, target, tmp_path):
    missing = KEY + ".gone"
    assert s3.head_or_none(client, target.bucket, missing) is None
    assert s3.get_or_none(client, target.bucket, missing) is None
    assert s3.get_text(client, target, missing) is None
    assert s3.download_or_none(client, target.bucket, missing, tmp_path / "got") is None
    assert not (tmp_path / "got").exists()


def test_any_other_error_is_raised_not_taken_for_missing(client, target):
    """A bucket that does not exist is not a key that does not exist, nor is a condition that fails:
    taken for "missing", it would let publishing write where it must not, or check-published pass.
    (A HEAD's answer has no body: S3 says 404 for a missing bucket as for a missing key.)"""
    with pytest.raises(s3.botocore.exceptions.ClientError) as raised:
        s3.get_or_none(client, target.bucket + "-none", KEY)
    assert s3.error_code(raised.value) == "NoSuchBucket" and not s3.missing(raised.value)
    for request in (s3.get_or_none, s3.head_or_none):
        with pytest.raises(s3.botocore.exceptions.ClientError) as raised:
            request(client, target.bucket, KEY, IfMatch='"not-its-etag"')
        assert s3.error_code(raised.value) in ("PreconditionFailed", "412") and not s3.missing(raised.value)

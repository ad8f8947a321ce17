"""--deploy's AWS settings, checked before any work: the picture boto3 will see, complete or refused.

A release build takes a quarter of an hour; credentials that cannot work should stop the run before
it, in one line that says which setting is wrong and where it came from, and never shows a value.
"""

import difflib
import os

import botocore.exceptions
import botocore.session

from . import s3
from .errors import UsageError
from .s3 import session_for
from .settings import AWS_KEYS, check_bucket

KEY_PAIR = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


def for_deploy(env_file: dict, env_file_path: str | None, command: str = "--deploy") -> dict:
    """The AWS settings to hand boto3 (the env file's over the environment's), once boto3 can
    sign requests with them; UsageError otherwise, naming `command` (what needs them)."""
    aws = combined(env_file)

    def origin(key):
        return f"in {env_file_path}" if key in env_file else "in the environment"

    _check_key_pair(aws, origin, command)
    try:
        found = session_for(aws).get_credentials()  # boto3 reads AWS_PROFILE's profile here
    except botocore.exceptions.ProfileNotFound as exc:
        # Without AWS_PROFILE, boto3 took the name from the older AWS_DEFAULT_PROFILE.
        source = (f"AWS_PROFILE {origin('AWS_PROFILE')}" if "AWS_PROFILE" in aws
                  else "AWS_DEFAULT_PROFILE in the environment")
        raise UsageError(_no_such_profile(exc.kwargs.get("profile", ""), source, command)) from None
    except botocore.exceptions.BotoCoreError as exc:
        raise UsageError(f"{command}: AWS credentials cannot be read: {exc}") from None
    if found is None:
        raise UsageError(f"{command} found no AWS credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or "
                         "AWS_PROFILE (environment or --env-file), or run where an instance role applies")
    return aws


def deploy_target(bucket: str, prefix: str, bucket_source: str, env_file: dict, env_file_path: str | None,
                  command: str = "--deploy") -> s3.Target:
    """The bucket to write or read for real, once its name is valid and boto3 has credentials for
    it (UsageError otherwise, naming `command`)."""
    check_bucket(bucket, bucket_source)
    aws = for_deploy(env_file, env_file_path, command)
    return s3.Target(bucket=bucket, prefix=s3.normalise_prefix(prefix), endpoint=aws.get("AWS_ENDPOINT_URL_S3"),
                     dry_run=False, credentials=aws)


def combined(env_file: dict, environ=os.environ) -> dict:
    """The AWS_* settings boto3 will work with: a value from the env file over the environment's.
    An empty value is no value (as boto3 treats an empty variable) and leaves the environment's
    standing: a session given no profile still reads $AWS_PROFILE, so emptying it could not hide it."""
    aws = {key: environ[key] for key in AWS_KEYS if environ.get(key)}
    aws.update((key, value) for key, value in env_file.items() if key in AWS_KEYS and value)
    return aws


def _check_key_pair(aws: dict, origin, command: str):
    """Given half a key pair, boto3 builds credentials anyway and every request fails to sign;
    a session token is only valid with the key pair it was issued with."""
    have = [key for key in KEY_PAIR if key in aws]
    if len(have) == 1:
        missing = next(key for key in KEY_PAIR if key not in aws)
        raise UsageError(f"{command}: {have[0]} is set ({origin(have[0])}) but {missing} is not; set both "
                         "(environment or --env-file), or neither to use AWS_PROFILE or an instance role")
    if "AWS_SESSION_TOKEN" in aws and not have:
        raise UsageError(f"{command}: AWS_SESSION_TOKEN is set ({origin('AWS_SESSION_TOKEN')}) without "
                         "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; a session token works only with the "
                         "key pair issued with it: set all three, or remove the token")


def _no_such_profile(profile: str, source: str, command: str) -> str:
    """Which profile, where boto3 looked, and what it found there. A profile's name is a label,
    not a secret (AWS's own tools print it), so unlike other values it is shown."""
    config_file, credentials_file, profiles = _profile_files()
    where = f"{config_file} or {credentials_file}"
    if profiles is None:
        found = "and they do not parse"
    elif not profiles:
        found = "those files define no profiles"
    elif close := difflib.get_close_matches(profile, profiles, n=1):
        found = f"did you mean {close[0]}?"
    else:
        found = f"the profiles there: {', '.join(sorted(profiles))}"
    return (f"{command}: AWS profile {profile!r} ({source}) is not in {where}, the files boto3 reads "
            f"(moved by AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE); {found}")


def _profile_files():
    """The config and credentials files boto3 reads, and the profiles they define."""
    session = botocore.session.Session()
    files = [os.path.expanduser(session.get_config_variable(name)) for name in ("config_file", "credentials_file")]
    try:
        profiles = list(session.available_profiles)
    except botocore.exceptions.BotoCoreError:  # a file that does not parse: still say where we looked
        profiles = None
    return files[0], files[1], profiles

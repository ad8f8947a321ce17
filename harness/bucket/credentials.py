"""--deploy's AWS settings, checked before any work: the picture boto3 will see, complete or refused.

A release build takes a quarter of an hour; credentials that cannot work should stop the run before
it, in one line that says which setting is wrong and where it came from, and never shows a value.
"""

import difflib
import os
import urllib.parse

import botocore.exceptions
import botocore.session
import botocore.utils

from .. import redact
from ..errors import UsageError
from . import s3, settings
from .s3 import session_for
from .settings import AWS_KEYS, check_bucket

KEY_PAIR = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


def for_deploy(env_file: dict, env_file_path: str | None, command: str = "--deploy") -> dict:
    """The AWS settings to hand boto3 (the env file's over the environment's), once boto3 can
    sign requests with them and make a client of them; UsageError otherwise, naming `command`
    (what needs them). Whatever boto3 resolved is registered with the redactor."""
    settings.check_environment()
    aws = combined(env_file)

    def origin(key):
        return f"in {env_file_path}" if key in env_file else "in the environment"

    _check_key_pair(aws, origin, command)
    _check_region_and_endpoint(aws, origin, command)
    try:
        session = session_for(aws)
        found = session.get_credentials()  # boto3 reads AWS_PROFILE's profile here, runs its credential_process
    except botocore.exceptions.ProfileNotFound as exc:
        # Without AWS_PROFILE, boto3 took the name from the older AWS_DEFAULT_PROFILE.
        source = (f"AWS_PROFILE {origin('AWS_PROFILE')}" if "AWS_PROFILE" in aws
                  else "AWS_DEFAULT_PROFILE in the environment")
        raise UsageError(_no_such_profile(exc.kwargs.get("profile", ""), source, command)) from None
    except botocore.exceptions.CredentialRetrievalError as exc:
        # Its text is the helper's stderr (or a piece of its output): whatever a credential helper
        # says may hold a secret, so it is never repeated.
        raise UsageError(f"{command}: AWS credentials could not be had from {_source(exc.kwargs.get('provider'))} "
                         "(what it said is not shown: it may hold a secret); run that command yourself to see why"
                         ) from None
    except botocore.exceptions.BotoCoreError as exc:
        raise UsageError(f"{command}: AWS credentials cannot be read: {redact.redact(exc)}") from None
    except OSError as exc:  # a credential_process that cannot be started
        raise UsageError(f"{command}: AWS credentials cannot be read: the profile's credential_process cannot be "
                         f"run ({exc.strerror or type(exc).__name__}); check its command") from None
    except ValueError as exc:  # a credential_process's output that is not UTF-8 JSON, and the like
        raise UsageError(f"{command}: AWS credentials cannot be read ({type(exc).__name__}; its text is not shown: "
                         "it may hold a piece of a secret); a credential_process must print its JSON "
                         "(Version 1) in UTF-8") from None
    if found is None:
        raise UsageError(f"{command} found no AWS credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or "
                         "AWS_PROFILE (environment or --env-file), or run where an instance role applies")
    frozen = found.get_frozen_credentials()
    redact.register(frozen.access_key, frozen.secret_key, frozen.token)
    for part, value in (("access key id", frozen.access_key), ("secret access key", frozen.secret_key),
                        ("session token", frozen.token)):
        if value and any(redact.is_unprintable(char) for char in value):
            raise UsageError(f"{command}: the AWS {part} boto3 had from {_source(found.method)} has "
                             f"{settings.UNPRINTABLE}; {settings.ONE_LINE}")
    try:  # what boto3 checks only when it makes the client (the region or endpoint of a profile)
        s3.client_from(session, endpoint=aws.get("AWS_ENDPOINT_URL_S3"))
    except botocore.exceptions.InvalidRegionError:
        raise UsageError(f"{command}: the region boto3 found (in the AWS config file's profile) is not a region "
                         "name; set AWS_REGION to one, such as us-east-1") from None
    except (botocore.exceptions.BotoCoreError, ValueError) as exc:
        raise UsageError(f"{command}: boto3 cannot make an S3 client of these settings ({type(exc).__name__}; "
                         "check the endpoint_url and region of the AWS profile)") from None
    return aws


# What boto3's credential methods (Credentials.method, CredentialRetrievalError's provider) mean.
SOURCES = {"custom-process": "the profile's credential_process", "shared-credentials-file": "the AWS credentials file",
           "config-file": "the AWS config file", "env": "the environment", "explicit": "the settings given",
           "assume-role": "an assumed role", "sso": "AWS SSO", "container-role": "the container credential endpoint",
           "iam-role": "the instance role"}


def _source(method) -> str:
    return SOURCES.get(method, f"boto3's {method} provider")


def _check_region_and_endpoint(aws: dict, origin, command: str):
    """A region or endpoint boto3 would refuse only when it makes a client, in a traceback that
    repeats the value (and an endpoint's user:password@): refused here, by name."""
    for key in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        if key in aws:
            try:
                botocore.utils.validate_region_name(aws[key])
            except botocore.exceptions.InvalidRegionError:
                raise UsageError(f"{command}: {key} ({origin(key)}) is not a region name; a region is letters, "
                                 "digits and '-', such as us-east-1") from None
    # boto3 reads AWS_ENDPOINT_URL (every service) from the environment when AWS_ENDPOINT_URL_S3 is unset.
    endpoints = {key: aws[key] for key in ("AWS_ENDPOINT_URL_S3",) if key in aws}
    if os.environ.get("AWS_ENDPOINT_URL"):
        endpoints["AWS_ENDPOINT_URL"] = os.environ["AWS_ENDPOINT_URL"]
    for key, url in endpoints.items():
        where = origin(key) if key in aws else "in the environment"
        redact.register_url(url)
        parts = urllib.parse.urlsplit(url)
        if "@" in parts.netloc:
            # S3 signs each request with the key pair; a user:password@ in the URL is a credential
            # in the wrong place (and one that every message naming the endpoint would repeat).
            raise UsageError(f"{command}: {key} ({where}) has a user name or password in it (user:password@), "
                             "which S3 does not use; remove it (credentials go in AWS_ACCESS_KEY_ID and "
                             "AWS_SECRET_ACCESS_KEY)")
        if parts.scheme not in ("http", "https") or not (botocore.utils.is_valid_endpoint_url(url)
                                                         or botocore.utils.is_valid_ipv6_endpoint_url(url)):
            raise UsageError(f"{command}: {key} ({where}) is not an http(s) URL with a host name; write it as "
                             "https://HOST[:PORT], such as https://s3.example.internal")


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
    aws = {key: settings.from_environment(key, environ=environ) for key in AWS_KEYS if environ.get(key)}
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

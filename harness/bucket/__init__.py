"""The bucket: s3 (the client, retries, the key layout), settings (the env file, bucket and prefix),
credentials (read on the host by boto3, never into a container), preflight (reachable, conditional
writes honoured), publish (conditional writes, the converging manifest), manifest (its one reader),
s3server (the embedded S3 of dry runs and tests)."""

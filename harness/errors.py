"""Errors the user can fix: reported as one line, without a traceback."""


class UsageError(Exception):
    """Bad input (an option, a formula, a stack, an env file). The run stops before any work."""


class DataFileError(UsageError):
    """A formula or stack file that does not validate: names the file and the field."""

    def __init__(self, path, field, problem):
        self.path, self.field, self.problem = path, field, problem
        super().__init__(f"{path}: field '{field}': {problem}")


class PairError(Exception):
    """One pair failed for a reason worth one line (bad checksum, no base image, ...).

    The pair fails with this message instead of a traceback; the other pairs go on.
    """

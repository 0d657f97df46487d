"""Exception hierarchy of the mastering farm.

Recoverable findings about audio are QC events, never exceptions. Exceptions are for input that cannot be
read at all (``InputError``, which becomes one ``error`` row) and for wrong configuration (``ConfigError``,
which stops the command with exit code 1 and a one-line message).
"""


class FarmError(Exception):
    """Root of every error the farm raises on purpose."""


class InputError(FarmError):
    """An input (file, folder, manifest row) cannot be read or is not audio."""


class ConfigError(FarmError):
    """A command-line option, profile or preset is invalid."""


class DeliverableError(FarmError):
    """A release cannot be delivered in a format at all (too many tracks for a CD, a side too long...)."""

"""Errors a user can cause, reported as one clear message before any training."""


class ConfigError(ValueError):
    """A config value, file or column that trainlab cannot use.

    The message names the key (or file, or column), the value given and what is allowed.
    """

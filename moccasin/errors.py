"""Exceptions that carry a one-line message for people and the CLI's exit code."""


class MoccasinError(Exception):
    """Base of every error Moccasin raises on purpose; ``str(e)`` is one readable line."""

    exit_code = 1


class InputError(MoccasinError):
    """Bad input: a graph or schedule file, a budget string, an option. Exit code 1."""

    exit_code = 1


class InvalidSchedule(MoccasinError):
    """A sequence that is not a valid schedule of its graph (missing node, input not ready)."""

    exit_code = 1

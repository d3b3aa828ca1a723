"""The exit codes every ``trailguard`` command returns, in one place (the README's table).

=====  =========  ==========================================================================================
code   name       meaning
=====  =========  ==========================================================================================
0      OK         the command did what was asked (``incidents`` read the table, even if it is empty)
1      FAILED     the command ran and failed: a deploy that failed, baselines not all recorded, the demo's
                  trail not repaired, the emulator not started, a deploy that would protect no trail,
                  and AWS not reachable with this configuration (no credentials, unknown profile,
                  endpoint down, credentials refused or denied): the command could not do its work
2      USAGE      bad usage (argparse's own errors, an invalid value, no region given anywhere, a
                  ``--protected-trail`` that does not exist, a destroy not confirmed) or an input that
                  cannot be read: a file that is missing, unreadable or not what it must be, a stack or
                  state table that does not exist, a stack without the output the command needs
=====  =========  ==========================================================================================

"No credentials" is 1 everywhere (deploy, destroy, baseline, incidents): it is the same failure, met
before any input was read; "no region" is 2 everywhere, as the AWS CLI treats it as the caller's to give.
Progress and prompts go to stderr, results to stdout (``--output json`` where a command prints results).
A command either returns its code or raises :class:`CommandError`;
:func:`trailguard.cli.main` prints the error as ``trailguard COMMAND: message`` and returns its code.
"""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2


class CommandError(Exception):
    """Stops a command with ``code``; the message says what went wrong and, where known, what to do."""

    def __init__(self, code: Exit, message: str) -> None:
        super().__init__(message)
        self.code = code

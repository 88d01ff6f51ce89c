"""One exception type for problems the user can fix (bad input, bad config).

The CLI prints these as a single line naming the file and the problem, instead of a
traceback; anything else is a bug and keeps its traceback.
"""


class ExomirError(Exception):
    """A user-facing error: the message alone must tell what is wrong and where."""

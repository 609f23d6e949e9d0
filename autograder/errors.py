"""The base of every error a user can cause and fix. The CLI prints its message on one line and
exits with status 2; any other exception is a bug in the autograder."""


class UserError(Exception):
    """A problem the user can fix; the message says what to do."""

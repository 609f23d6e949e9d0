"""Autograder for the "Machine Learning for Materials" Matbench research challenge.

Students: `import autograder; autograder.self_check()` inside the notebook checks it with the
graders' own checks. Everything else is the `autograder` command (see `autograder --help`).
"""

from autograder.version import __version__

__all__ = ["__version__", "self_check"]


def self_check(notebook=None, results=None, challenge=None, student=None):
    """Check the notebook that is open (or the one given) with the graders' own checks; `challenge`
    (your letter) or `student` (your id, for the course's allocation) when the notebook does not say it."""
    # on use: the self-check sits above every stage; modules of the package take the version from
    # autograder.version, never from here, so nothing imports its way back through this
    from autograder.selfcheck import self_check as _self_check

    return _self_check(notebook=notebook, results=results, challenge=challenge, student=student)

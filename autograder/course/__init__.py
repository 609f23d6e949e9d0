"""The course: what it is before any submission arrives.

`config` (the course folder and `autograder.toml`), `challenges` (the Matbench tasks A-D and their
leaderboards), `data` (the data sets on disk and the official folds), `allocation` (one challenge per
student) and `release` (the student version of the assignment, through nbgrader).
"""

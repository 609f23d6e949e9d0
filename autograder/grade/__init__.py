"""Grading: the rubric, manual marks, lateness and presentation recordings combined into one
`grade.json` per submission, and the nbgrader gradebook kept in step.

Nothing here renders a page: `autograder.report` reads what this stage wrote.
"""

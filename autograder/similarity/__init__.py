"""Cohort similarity: code and written answers shared between students, or with earlier years'
notebooks (the archive), with the template and what most of the cohort has in common discounted.
For markers only: evidence for a human decision, never shown to a student.

extract.py      a notebook's own code and text, cell by cell; its literal settings and printed results
fingerprint.py  tokens (names normalised, comments dropped) and winnowed k-gram fingerprints
compare.py      boilerplate, candidate search over the whole cohort and archive, pair scores, passages
run.py          the stage for a course: submitted/ and the archive -> reports/<assignment>/similarity.json
"""

from autograder.similarity.run import compare, read_material, run_similarity

__all__ = ["compare", "read_material", "run_similarity"]

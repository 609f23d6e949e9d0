"""protocol.*: was the Matbench protocol followed, and are the recorded predictions what they
should be? (reference: shared/reference/matbench-and-course.md §1, the 14 ways of breaking it.)

Sources of evidence, strongest first: the results file and the ground truth (rescored by us), the
protocol trace written by the grader's instrumented kernel, the notebook's code (static analysis
with `ast`) and its saved outputs.

The checks, a module for what they read (the report lists them in the order autograder.findings
declares their ids, whichever module declares each):

- `splits`: the code's use of the Matbench API, splits of its own, subsamples (protocol.api_used,
  protocol.own_split, protocol.subsample);
- `results`: the results file and the Score recomputed from it (protocol.results_file,
  protocol.written_by_run, protocol.task, protocol.folds_complete, protocol.test_ids,
  protocol.prediction_values, protocol.scores);
- `trace`: the protocol trace of the run, or the code without one (protocol.trace,
  protocol.test_targets, protocol.full_data_in_loop, protocol.record_twice);
- `leaks`: where the data go (autograder.checks.dataflow): pre-processing fitted on test rows,
  tuning on test data (protocol.preprocessing_leak, protocol.test_tuning);
- `plausibility`: whether the Score is believable: the scores the text quotes, predictions out of
  order, a score too good (protocol.claimed_scores, protocol.alignment, protocol.plausibility);
- `evidence`: what several of them read: the notebook's saved outputs, the trace's events.
"""

# Importing the modules declares their checks.
from autograder.checks.protocol import leaks, plausibility, results, splits, trace  # noqa: F401

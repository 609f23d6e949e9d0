"""Where the data go: which rows each fit, split and score of the student's code sees.

A small abstract interpreter over the notebook's code, in cell order: every value is labelled with
the rows it holds (the whole data set, a training part, a test part, a file of unknown content),
the pre-processing fits it depends on, the test-data scores it carries and the loops over settings
it depends on. The student's own functions and methods are followed into (with the labels of the
arguments of each call); what cannot be followed makes the labels unsure, and unsure findings are
warnings for the marker, never failures. The leak and tuning checks (protocol.preprocessing_leak,
protocol.test_tuning) read it as `ctx.flow`.

The package, one concern a module:

- `values`: what the analysis knows of a value (Value, Source, the row kinds WHOLE, TRAIN, TEST,
  FILE), the events it records (FitEvent, ScoreEvent, LoopInfo, Choice, EarlyStop, SearchFit) and
  the code they come from (`segment`);
- `library`: the tables of what scikit-learn, pandas, numpy and matbench calls do to rows;
- `interpreter`: DataFlow, which runs the notebook's cells, and what the checks ask of it;
- `statements`, `expressions`, `calls`: the parts of DataFlow that evaluate statements, expressions
  (and the student's own functions) and library calls (and record the events).
"""

from autograder.checks.dataflow.interpreter import DataFlow
from autograder.checks.dataflow.values import FILE, TEST, TRAIN, WHOLE, segment

__all__ = ["FILE", "TEST", "TRAIN", "WHOLE", "DataFlow", "segment"]

"""Everything a check reads about one submission, loaded once and lazily.

Two ways in:
* `CheckContext.from_autograded(course, student_id, assignment)`: the grader's folder
  `autograded/{student}/{assignment}/` (executed notebook, results.json.gz, protocol_trace.jsonl,
  result.json), plus the submitted notebook (for what the student saved: execution order, errors
  left in outputs), the allocation and the released notebook.
* `CheckContext.from_notebook(path, results_path=None, ...)`: a bare notebook and its results file
  (the student self-check). No trace and no execution record unless given.

Anything that cannot be loaded is kept as an error message, so each check can say it could not
run instead of the whole run failing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from autograder.checks.analysis import NotebookAnalysis
from autograder.checks.dataflow.interpreter import DataFlow
from autograder.checks.notebook import Notebook, NotebookError, read_notebook
from autograder.course.challenges import Catalogue, Challenge
from autograder.layout import ALLOCATION_FILE, RESULTS_FILE, TRACE_FILE
from autograder.records import ExecutionRecord
from autograder.results.file import ResultsFile, ResultsFileError, load_results

PACKAGED_RELEASE = Path(__file__).resolve().parent / "released" / "research_challenge.ipynb"


@dataclass
class TraceView:
    """The protocol trace as the checks use it (read and validated by autograder.execute.trace)."""

    events: list[dict]
    valid: bool
    problem: str = ""
    bad_lines: int = 0

    def of(self, kind: str) -> list[dict]:
        return [e for e in self.events if e.get("event") == kind]

    @property
    def nonces(self) -> list[str]:
        return [str(e.get("nonce")) for e in self.of("trace_start")]


def load_trace(path: Path, nonce: str | None) -> TraceView:
    """Read a trace with the engine's reader. Without a known nonce (a trace handed to the self-check),
    a trace is valid when it starts with a single trace_start."""
    from autograder.execute.trace import read_trace

    trace = read_trace(path, nonce or "")
    valid, problem = trace.valid, trace.problem
    if (
        nonce is None
        and trace.events
        and trace.events[0].get("event") == "trace_start"
        and sum(1 for e in trace.events if e.get("event") == "trace_start") == 1
    ):
        valid, problem = True, ""
    return TraceView(trace.events, valid, problem, trace.bad_lines)


def find_released_notebook(course=None, assignment: str | None = None) -> Path | None:
    """The released (student) version of the assignment: the course's release/ folder, else the
    copy shipped in the package (for the student self-check), else None."""
    candidates = []
    if course is not None:
        release = course.release_dir(assignment)
        candidates.append(release / f"{assignment or course.assignment}.ipynb")
        if release.is_dir():
            candidates.extend(sorted(release.glob("*.ipynb")))
    name = assignment or (course.assignment if course is not None else PACKAGED_RELEASE.stem)
    if name == PACKAGED_RELEASE.stem:  # the packaged copy is this course's research challenge only
        candidates.append(PACKAGED_RELEASE)
    return next((p for p in candidates if p.is_file()), None)


@dataclass
class CheckContext:
    notebook_path: Path | None
    mode: str  # "autograded" | "notebook"
    results_path: Path | None = None
    trace_path: Path | None = None
    record: ExecutionRecord | None = None
    challenge: Challenge | None = None
    challenge_source: str = ""  # allocation | record | parameters | results file | given
    released_path: Path | None = None
    submitted_path: Path | None = None  # the notebook as the student saved it (autograded mode)
    catalogue: Catalogue = field(default_factory=Catalogue)
    trace_expected: bool = False  # an instrumented run happened, so a trace must exist
    expected_nonce: str | None = None
    student_id: str | None = None
    course: object = None  # autograder.course.config.Course when there is one
    notes: list[str] = field(default_factory=list)

    # --- constructors ----------------------------------------------------------------------------
    @classmethod
    def from_autograded(
        cls, course, student_id: str, assignment: str | None = None, allocation=None
    ) -> CheckContext:
        assignment = assignment or course.assignment
        folder = course.autograded_dir(student_id, assignment)
        notes = []
        record = course.load_record(student_id, assignment)
        if record is None and course.result_path(student_id, assignment).is_file():
            notes.append("the execution record could not be read")
        notebook_path = None
        if record and record.notebook and (folder / record.notebook).is_file():
            notebook_path = folder / record.notebook
        else:
            found = sorted(folder.glob("*.ipynb")) if folder.is_dir() else []
            notebook_path = found[0] if found else None
        results_path = folder / (record.results_file if record and record.results_file else RESULTS_FILE)
        trace_path = folder / (record.trace_file if record and record.trace_file else TRACE_FILE)
        submitted = None
        if notebook_path is not None:
            candidate = course.submitted_dir(student_id, assignment) / notebook_path.name
            submitted = candidate if candidate.is_file() else None
        if submitted is None:
            sub_dir = course.submitted_dir(student_id, assignment)
            found = sorted(sub_dir.glob("*.ipynb")) if sub_dir.is_dir() else []
            submitted = found[0] if len(found) == 1 else None
        catalogue = course.config.catalogue
        challenge, source = None, ""
        try:
            from autograder.course.allocation import read_allocation

            if allocation is None:
                allocation = read_allocation(course.allocation_path, catalogue)
            letter = allocation.get(student_id)
            if letter:
                challenge, source = catalogue.get(letter), "allocation"
        except Exception as error:  # noqa: BLE001 - a broken allocation file is reported, not fatal
            notes.append(f"{ALLOCATION_FILE} could not be read ({type(error).__name__})")
        if challenge is None and record is not None:
            for key in (record.challenge, (record.parameters or {}).get("challenge"), record.task):
                if key:
                    try:
                        challenge, source = catalogue.get(str(key)), "record"
                        break
                    except ValueError:
                        pass
        ran = record is not None and record.status not in ("pending", "intake-error")
        ctx = cls(
            notebook_path=notebook_path,
            mode="autograded",
            results_path=results_path,
            trace_path=trace_path,
            record=record,
            challenge=challenge,
            challenge_source=source,
            released_path=find_released_notebook(course, assignment),
            submitted_path=submitted,
            catalogue=catalogue,
            trace_expected=ran,
            expected_nonce=_nonce_of(record),
            student_id=student_id,
            course=course,
            notes=notes,
        )
        if ctx.challenge is None:
            ctx._challenge_from_files()
        return ctx

    @classmethod
    def from_notebook(
        cls,
        notebook_path: Path | str,
        results_path: Path | str | None = None,
        challenge: Challenge | str | None = None,
        released_path: Path | str | None = None,
        trace_path: Path | str | None = None,
        record: ExecutionRecord | None = None,
        course=None,
        expected_nonce: str | None = None,
    ) -> CheckContext:
        notebook_path = Path(notebook_path)
        catalogue = course.config.catalogue if course is not None else Catalogue()
        if results_path is None:
            results_path = notebook_path.parent / RESULTS_FILE
            try:
                named = Notebook(read_notebook(notebook_path)).parameters().get("results_path")
                if isinstance(named, str) and named and not os.path.isabs(named):
                    results_path = notebook_path.parent / named
            except NotebookError:
                pass
        ctx = cls(
            notebook_path=notebook_path,
            mode="notebook",
            results_path=Path(results_path),
            trace_path=Path(trace_path) if trace_path else None,
            record=record,
            released_path=Path(released_path) if released_path else find_released_notebook(course),
            submitted_path=notebook_path,
            catalogue=catalogue,
            trace_expected=trace_path is not None,
            expected_nonce=expected_nonce or _nonce_of(record),
            course=course,
        )
        if isinstance(challenge, Challenge):
            ctx.challenge, ctx.challenge_source = challenge, "given"
        elif challenge:
            ctx.challenge, ctx.challenge_source = catalogue.get(str(challenge)), "given"
        else:
            ctx._challenge_from_files()
        return ctx

    def _challenge_from_files(self):
        """Without an allocation: the notebook's parameters, else the results file's task, else the
        one course task the student's code names (`load_dataset("matbench_glass")`)."""
        if self.notebook is not None:
            letter = self.notebook.parameters().get("challenge")
            if isinstance(letter, str) and letter.strip():
                try:
                    self.challenge, self.challenge_source = self.catalogue.get(letter), "parameters"
                    return
                except ValueError:
                    pass
        if self.results is not None and len(self.results.tasks) == 1:
            try:
                self.challenge = self.catalogue.get(next(iter(self.results.tasks)))
                self.challenge_source = "results file"
            except ValueError:
                pass
        if self.challenge is None and self.notebook is not None:
            course_tasks = [t for t in self.notebook.matbench_tasks() if t in self.catalogue.tasks]
            if len(course_tasks) == 1:
                self.challenge, self.challenge_source = (
                    self.catalogue.get(course_tasks[0]),
                    "named in the code",
                )

    # --- lazily loaded parts ---------------------------------------------------------------------
    @cached_property
    def released(self) -> Notebook | None:
        if self.released_path is None or not Path(self.released_path).is_file():
            return None
        try:
            return Notebook.read(self.released_path)
        except NotebookError:
            return None

    @cached_property
    def _notebook(self) -> tuple[Notebook | None, str | None]:
        if self.notebook_path is None or not Path(self.notebook_path).is_file():
            return None, "no notebook was found"
        try:
            return Notebook.read(self.notebook_path, released=self.released), None
        except NotebookError as error:
            return None, str(error)

    @property
    def notebook(self) -> Notebook | None:
        return self._notebook[0]

    @property
    def notebook_error(self) -> str | None:
        return self._notebook[1]

    @cached_property
    def submitted(self) -> Notebook | None:
        """The notebook as the student saved it (what they ran themselves)."""
        if self.submitted_path is None:
            return None
        if self.notebook_path is not None and Path(self.submitted_path) == Path(self.notebook_path):
            return self.notebook
        try:
            return Notebook.read(self.submitted_path, released=self.released)
        except NotebookError:
            return None

    @cached_property
    def _results(self) -> tuple[ResultsFile | None, str | None]:
        if self.results_path is None or not Path(self.results_path).is_file():
            return None, "missing"
        try:
            return load_results(self.results_path), None
        except ResultsFileError as error:
            return None, str(error)

    @property
    def results(self) -> ResultsFile | None:
        return self._results[0]

    @property
    def results_error(self) -> str | None:
        """None when the file loaded, "missing" when there is none, else why it cannot be read."""
        return self._results[1]

    @cached_property
    def _trace(self) -> tuple[TraceView | None, str | None]:
        if self.trace_path is None:
            return None, "no trace (the notebook was not run by the grader's instrumented kernel)"
        if not Path(self.trace_path).is_file():
            return None, "missing"
        view = load_trace(Path(self.trace_path), self.expected_nonce)
        return view, None

    @property
    def trace(self) -> TraceView | None:
        return self._trace[0]

    @property
    def trace_error(self) -> str | None:
        return self._trace[1]

    @property
    def trace_valid(self) -> bool:
        """A trace of this run: starts with the engine's trace_start carrying its nonce."""
        return self.trace is not None and self.trace.valid

    @cached_property
    def analysis(self):
        """Static analysis of the code the student wrote: the notebook as submitted when we have it
        (the grader's executed copy has instructor cells restored or re-inserted), else the
        executed one."""
        source = self.submitted if self.submitted is not None else self.notebook
        return NotebookAnalysis(source) if source is not None else None

    @cached_property
    def flow(self):
        """Where the data go in the student's code (autograder.checks.dataflow.interpreter.DataFlow);
        None when the code cannot be read."""
        return DataFlow(self.analysis) if self.analysis is not None else None

    @property
    def restored_cells(self) -> list[dict]:
        """What the grader changed before running (ExecutionRecord.sanitise), e.g. a deleted
        locked cell put back."""
        return list(self.record.sanitise) if self.record is not None else []

    @cached_property
    def _ground_truth(self):
        if self.challenge is None:
            return None, "the challenge is not known"
        from autograder.course.data import load_ground_truth

        try:
            return load_ground_truth(self.challenge.task), None
        except Exception as error:  # noqa: BLE001 - DataMissingError/DataInvalidError and the like
            return None, str(error)

    @property
    def ground_truth(self):
        return self._ground_truth[0]

    @property
    def ground_truth_error(self) -> str | None:
        return self._ground_truth[1]

    @cached_property
    def targets_by_id(self) -> dict | None:
        truth = self.ground_truth
        return truth.target_of() if truth is not None else None

    @cached_property
    def task_result(self):
        """The results file's entry for the challenge's task (None if absent)."""
        if self.results is None or self.challenge is None:
            return None
        return self.results.tasks.get(self.challenge.task)

    @cached_property
    def score(self):
        """The one Score of this submission (autograder.results.score), from the results file's
        predictions for the allocated task; None when there is nothing to score."""
        from autograder.results.score import fold_predictions_of, score_predictions

        if self.task_result is None or self.ground_truth is None:
            return None
        return score_predictions(self.challenge, fold_predictions_of(self.task_result), self.ground_truth)


def _nonce_of(record: ExecutionRecord | None) -> str | None:
    if record is None:
        return None
    for source in (record.environment or {}, record.parameters or {}):
        for key in ("trace_nonce", "nonce"):
            if source.get(key):
                return str(source[key])
    return None

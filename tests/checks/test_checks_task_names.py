"""Which Matbench task a notebook works on, from its code: a task compared with or listed in a table of
tasks is code written for several tasks (the reference solution's `if task_name == ...`), not the task
worked on; a task loaded or selected is."""

from checks_support import add_cell, released

from autograder.checks.notebook import Notebook


def tasks_of(code: str) -> list[str]:
    return Notebook(add_cell(released(), "model", code), released=Notebook(released())).matbench_tasks()


def test_a_loaded_or_selected_task_is_the_one_worked_on():
    assert tasks_of('df = load_dataset("matbench_glass")') == ["matbench_glass"]
    assert tasks_of('mb = MatbenchBenchmark(subset=["matbench_expt_gap"])') == ["matbench_expt_gap"]


def test_comparisons_and_tables_of_tasks_are_not():
    code = (
        'if task_name == "matbench_perovskites":\n    depth = 8\n'
        'TASKS = {"A": "matbench_phonons", "B": "matbench_expt_gap"}\n'
    )
    assert tasks_of(code) == []
    assert tasks_of(code + 'data = load_dataset("matbench_phonons")\n') == ["matbench_phonons"]

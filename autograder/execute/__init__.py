"""The grading engine: run one submission headlessly, in a sandbox, and record what happened.

    sanitise.py      restore instructor-owned cells, strip stale papermill artefacts, neutralise `!pip`
    sandbox.py       bubblewrap (no network, read-only system, private home and /tmp), memory limit,
                     wall/CPU/peak-memory measurement, kill on budget
    run_one.py       the program that runs INSIDE the sandbox: papermill client + kernel
    kernel_startup/  the IPython start-up file that traces the matbench API inside the kernel
    trace.py         reading and validating protocol_trace.jsonl (light: also used by the checks)
    environment.py   the course environment (requirements.txt): package versions, missing-package advice
    diagnose.py      the findings of a run: budgets exceeded, kernel died, cell errors, network,
                     missing files and modules, outputs cut, sanitising changes
    engine.py        prepare_job() and execute_job(): all of the above for one student; writes the
                     execution folder and its ExecutionRecord (autograder.layout), nothing else

This package's __init__ stays import-free so that `autograder.execute.trace` is cheap to import.
"""

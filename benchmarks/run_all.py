"""Run every benchmark figure in one go: `python benchmarks/run_all.py` (or `make benchmarks`).

Each script prints its figure and the comparison it is measured against (ratios and medians: machines
are noisy). They are not tests: nothing here fails a build.
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Scripts run more than once: the batch throughput also on longer notebooks (a random forest per fold,
# about 12 CPU-s each instead of 2.6), where execution rather than fixed start-up costs dominates.
EXTRA_RUNS = {"batch_throughput.py": [["--trees", "1500", "--pairs", "0"]]}

if __name__ == "__main__":
    scripts = sorted(p for p in HERE.glob("*.py") if p.name != "run_all.py")
    for script in scripts:
        for arguments in [[]] + EXTRA_RUNS.get(script.name, []):
            print(f"\n=== {' '.join([script.name] + arguments)} ===", flush=True)
            subprocess.run([sys.executable, str(script)] + arguments, check=False)

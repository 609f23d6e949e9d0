"""Run every benchmark figure in one go: `python benchmarks/run_all.py` (or `make benchmarks`).

Each script prints its figure and the comparison it is measured against (ratios and medians: machines
are noisy). They are not tests: nothing here fails a build.
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

if __name__ == "__main__":
    scripts = sorted(p for p in HERE.glob("*.py") if p.name != "run_all.py")
    for script in scripts:
        print(f"\n=== {script.name} ===", flush=True)
        subprocess.run([sys.executable, str(script)], check=False)

#!/usr/bin/env bash
# Issues 13 and 24 on a CUDA machine, in one call (about 7 minutes: give the run call timeout_s=540).
# Here, first (hydra-core, omegaconf, antlr4, and Optuna with what it needs, into .whl/):
#   bash ../shared/scripts/gpu-wheels.sh optuna==5.1.0 sqlalchemy==2.1.9 alembic==1.20.1 colorlog==6.12.0 Mako==1.4.3
# Then, on the device machine, from the repository root, carrying .whl:
#   bash scripts/gpu_check_sweep.sh
set -u
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
fi
export PYTHONPATH="/tmp/site:$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
nproc
python3 - <<'PY'
import importlib.util
missing = [m for m in ("torch", "lightning", "torchmetrics", "tensorboard", "hydra", "omegaconf", "rich",
                       "pandas", "sklearn", "matplotlib", "PIL", "pytest") if importlib.util.find_spec(m) is None]
print("missing python packages:", missing or "none")
PY
echo "== GPU tests: the stack on CUDA, the default run there =="
timeout 150 python3 -m pytest -q -p no:cacheprovider -m gpu tests/stacked tests/test_gpu.py 2>&1 | tail -15
echo "== bench: 1024 tiny jobs stacked vs one alone (and 8 one after another, scaled) =="
timeout 300 python3 - <<'PY'
import sys
sys.path.insert(0, "scripts")
import bench_sweep as b
b.compare("tiny on CUDA, 64 jobs", b.TINY, 8, b.LRS, 8, 1)
b.compare("tiny on CUDA, 1024 jobs", b.TINY, 128, b.LRS, 8, 1)
b.scale(1, (64, 1024), command_line=False)  # issue 24's targets: 1024 jobs at most 3x one job alone, training at most 2x
PY
python3 -c "import optuna" 2>/dev/null || echo "(optuna is missing: collect it with gpu-wheels.sh, above)"
echo "== bench: the 32-trial Optuna search with a median pruner, stacked vs one trial at a time (issue 24: 10x) =="
timeout 240 python3 scripts/bench_pruning.py 2>&1 | tail -8

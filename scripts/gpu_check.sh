#!/usr/bin/env bash
# Everything issue 4 needs checked on a CUDA machine, in one call (at most about 9 minutes: give the run call timeout_s=580).
# Here, first: bash ../shared/scripts/gpu-wheels.sh   (hydra-core, omegaconf, antlr4 into .whl/;
#   pass extra names, e.g. matplotlib==3.11.0, if the check below reports them missing)
# Then, on the device machine, from the repository root, carrying .whl:
#   bash scripts/gpu_check.sh
set -u
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
fi
export PYTHONPATH="/tmp/site:$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 - <<'PY'
import importlib.util
missing = [m for m in ("torch", "lightning", "torchmetrics", "tensorboard", "hydra", "omegaconf", "rich",
                       "pandas", "sklearn", "matplotlib", "PIL", "pytest") if importlib.util.find_spec(m) is None]
print("missing python packages:", missing or "none")
PY
echo "== GPU tests =="
timeout 200 python3 -m pytest -q -p no:cacheprovider -m gpu tests 2>&1 | tail -25
echo "== default run on the GPU =="
timeout 45 python3 train.py trainer.enable_progress_bar=false hydra.run.dir=/tmp/gpu_run 2>&1 | grep -E "training path|test|acc|error" | head -12
echo "== bench: speed (a/b, d/b) and the per-epoch fixed cost =="
timeout 280 python3 scripts/bench.py --only speed overhead --epochs 6 --repeats 2

import subprocess
import sys


def test_models_import_without_lightning_or_hydra():
    code = (
        "import sys\n"
        "from trainlab.models import Dense, Perceptron, MLP\n"
        "import trainlab\n"
        "heavy = ('lightning', 'pytorch_lightning', 'hydra', 'omegaconf')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_api():
    import trainlab

    assert trainlab.run.__module__ == "trainlab.api"
    assert {"run", "Dense", "Perceptron", "MLP"} <= set(trainlab.__all__)


def test_trainlab_and_its_config_load_without_torch():
    code = (
        "import sys\n"
        "import trainlab, trainlab.cli\n"
        "from trainlab.config.composing import compose\n"
        "from trainlab.config.validate import validate\n"
        "validate(compose(['optimizer=sgd'])[0])\n"
        "heavy = ('torch', 'lightning', 'torchmetrics', 'tensorboard', 'sklearn', 'matplotlib')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    # The lazy names still work.
    import trainlab
    from trainlab.models import MLP

    assert trainlab.MLP is MLP


def test_the_default_data_set_is_split_without_scikit_learn():
    """scikit-learn costs a second of start-up; will_i_pass and the split of its rows do
    not need it. (scipy is imported anyway: torchmetrics imports scipy.signal when it is
    installed, and Lightning imports torchmetrics.)"""
    code = (
        "import sys\n"
        "from trainlab.training import build\n"
        "from trainlab.config.composing import compose\n"
        "cfg = compose([])[0]\n"
        "build.datasets(cfg, build.raw_data(cfg))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sklearn'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

"""Each default is defined once, in the schema; names come from the registries."""

import dataclasses
import typing
from pathlib import Path

import pytest
from omegaconf import MISSING, OmegaConf

from trainlab.config.composing import compose, config_dir
from trainlab.config.schema import SCHEMAS, Regularization, Train
from trainlab.models import ACTIVATIONS, MODELS
from trainlab.training.losses import LOSSES

IDENTITY = ("name", "_target_")  # what names an option: its YAML sets it


def option_files() -> list[Path]:
    """Every option file of every group (experiments are recipes, not options), and train.yaml."""
    groups = [p for p in config_dir().iterdir() if p.is_dir() and p.name != "experiment"]
    return [*sorted(f for g in groups for f in g.glob("*.yaml")), config_dir() / "train.yaml"]


def schema_of(path: Path) -> type | None:
    """The dataclass an option file is merged onto (through its defaults list)."""
    if path.name == "train.yaml":
        return Train
    if path.parent.name == "regularization":
        return Regularization
    for entry in OmegaConf.load(path).get("defaults", []):
        if entry.startswith("/schema/"):
            group, name = entry.removeprefix("/schema/").split("@")[0].split("/")
            return SCHEMAS[(group, name)]
        if entry != "_self_":  # trainer/cpu.yaml extends trainer/default.yaml
            return schema_of(path.parent / f"{entry}.yaml")
    return None  # scheduler/none.yaml: no keys


FILES = {path: schema_of(path) for path in option_files()}
SHARED = {s for s in FILES.values() if list(FILES.values()).count(s) > 1}


def default_of(schema: type, key: str):
    field = {f.name: f for f in dataclasses.fields(schema)}[key]
    return field.default_factory() if field.default_factory is not dataclasses.MISSING else field.default


def section_of(schema: type, key: str) -> type | None:
    hint = typing.get_type_hints(schema)[key]
    return next((t for t in (hint, *typing.get_args(hint)) if dataclasses.is_dataclass(t)), None)


def repeated(values: dict, schema: type, shared: bool, prefix: str = "") -> list[str]:
    """Keys of a YAML file whose value is (or, where the schema serves this file alone, could
    be) its schema's default: a default defined twice."""
    found = []
    for key, value in values.items():
        if key in ("defaults", "hydra", *IDENTITY):
            continue
        section = section_of(schema, key)
        if section is not None and isinstance(value, dict):
            found += repeated(value, section, False, f"{prefix}{key}.")
            continue
        default = default_of(schema, key)
        if value == default:
            found.append(f"{prefix}{key}: {value!r} repeats {schema.__name__}'s default")
        elif default != MISSING and not shared:
            found.append(f"{prefix}{key}: {value!r} here, {default!r} in {schema.__name__}, which serves no other file")
    return found


@pytest.mark.parametrize(
    "path", [p for p, s in FILES.items() if s is not None], ids=lambda p: f"{p.parent.name}.{p.stem}"
)
def test_an_option_file_holds_only_what_differs_from_its_schema(path):
    values = OmegaConf.to_container(OmegaConf.load(path))
    assert repeated(values, FILES[path], FILES[path] in SHARED) == []


@pytest.mark.parametrize(
    "path", [p for p in FILES if p.name != "train.yaml"], ids=lambda p: f"{p.parent.name}.{p.stem}"
)
def test_the_composed_option_takes_every_other_default_from_its_schema(path):
    group, option = path.parent.name, path.stem
    cfg, _ = compose([f"regularization=[{option}]" if group == "regularization" else f"{group}={option}"])
    node, schema = cfg[group], FILES[path]
    if group == "regularization":
        node, schema = node[option], section_of(Regularization, option)
    if schema is None:  # scheduler=none; regularization=[weight_decay], a number its file sets
        assert not node or node == OmegaConf.load(path)[option]
        return
    own = OmegaConf.load(path)
    own = own.get(option, {}) if group == "regularization" else own
    for field in dataclasses.fields(schema):
        if field.name not in own and not OmegaConf.is_missing(node, field.name):
            composed = OmegaConf.to_container(node, resolve=False)[field.name]
            assert composed == default_of(schema, field.name), f"{group}.{field.name}"


def test_the_defaults_users_have_been_getting():
    """README's scheduler keys; gamma and factor are 0.5, as the YAML gave before the schema held them."""
    step, _ = compose(["scheduler=step"])
    assert (step.scheduler.step_size, step.scheduler.gamma) == (20, 0.5)
    cosine, _ = compose(["scheduler=cosine", "trainer.max_epochs=30"])
    assert (cosine.scheduler.T_max, cosine.scheduler.eta_min) == (30, 0.0)
    plateau, _ = compose(["scheduler=plateau", "mode=max", "monitor=val/acc"])
    assert (plateau.scheduler.factor, plateau.scheduler.patience, plateau.scheduler.mode) == (0.5, 5, "max")
    lrs = {"sgd": 0.1, "adam": 0.01, "adamw": 0.01, "rmsprop": 0.001, "adagrad": 0.1, "adadelta": 1.0}
    for name, lr in lrs.items():
        cfg, _ = compose([f"optimizer={name}"])
        assert cfg.optimizer.lr == lr
        assert cfg.optimizer.weight_decay == (0.01 if name == "adamw" else 0.0)
    cfg, _ = compose()
    assert cfg.model.hidden == [32, 32] and cfg.trainer.max_epochs == 100 and cfg.data.n_samples == 2000
    assert cfg.regularization.dropout.p == 0.5 and cfg.regularization.early_stopping.patience == 10
    assert cfg.data.seed == cfg.seed == 42


def options(group: str) -> set[str]:
    return {p.stem for p in (config_dir() / group).glob("*.yaml")}


def test_each_registry_name_is_an_option_and_each_option_a_registry_name():
    assert options("model") == set(MODELS)
    assert options("activation") == set(ACTIVATIONS)
    assert options("loss") == set(LOSSES)
    assert {name for group, name in SCHEMAS if group == "model"} == set(MODELS)
    assert {name for group, name in SCHEMAS if group == "activation"} == set(ACTIVATIONS)


def test_the_allowed_names_come_from_the_registries():
    from trainlab.config.ranges import allowed_in
    from trainlab.config.schema import Activation, Loss, Model

    for schema, registry in ((Model, MODELS), (Activation, ACTIVATIONS), (Loss, LOSSES)):
        name = allowed_in(schema)["name"]
        assert all(name.test(n) for n in registry)
        assert not name.test("not-registered")


def test_from_spec_rebuilds_the_checkpointed_networks():
    import torch

    from trainlab.models import MLP, Perceptron, from_spec

    perceptron = from_spec({"name": "perceptron", "in_features": 3, "out_features": 1, "hidden": [], "dropout": 0.0})
    assert isinstance(perceptron, Perceptron) and perceptron.W.shape == (3, 1)
    spec = {
        "name": "mlp",
        "in_features": 2,
        "out_features": 3,
        "hidden": [8, 4],
        "activation": {"name": "leaky_relu", "negative_slope": 0.2},
        "dropout": 0.1,
    }
    mlp = from_spec(spec)
    assert isinstance(mlp, MLP) and mlp(torch.zeros(5, 2)).shape == (5, 3)
    assert [type(m).__name__ for m in mlp.layers] == ["Dense", "Dropout", "Dense", "Dropout", "Dense"]
    assert mlp.layers[0].g.negative_slope == 0.2
    assert spec["activation"] == {"name": "leaky_relu", "negative_slope": 0.2}  # the spec is not consumed
    with pytest.raises(ValueError, match="unknown model 'cnn'; allowed: perceptron, mlp"):
        from_spec({**spec, "name": "cnn"})

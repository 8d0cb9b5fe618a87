"""A run directory's files: their names, and writes that never leave half a file."""

import json
import os
import random

import pandas as pd
import pytest
import yaml
from omegaconf import OmegaConf, open_dict
from omegaconf.errors import GrammarParseError

from trainlab.errors import ConfigError
from trainlab.files.atomic import atomic_open, write_bytes, write_text
from trainlab.files.config_text import config_yaml, section_yaml
from trainlab.files.rundir import RunDir


def test_a_writer_that_fails_halfway_leaves_the_old_file_whole_and_no_temporary(tmp_path):
    path = write_text(tmp_path / "summary.json", '{"status": "finished"}\n')
    for error in (OSError("disk full (simulated)"), KeyboardInterrupt()):
        with pytest.raises(type(error)), atomic_open(path, "w") as file:
            file.write('{"status": "interr')
            raise error
        assert path.read_text() == '{"status": "finished"}\n'
        assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_the_temporary_is_the_name_with_tmp_beside_it(tmp_path):
    with atomic_open(tmp_path / "last.ckpt", "wb") as file:
        assert file.name == str(tmp_path / "last.ckpt.tmp")  # conftest's break_last_ckpt relies on it
        file.write(b"weights")
    assert (tmp_path / "last.ckpt").read_bytes() == b"weights"


def test_parents_are_created(tmp_path):
    path = write_bytes(tmp_path / "fold_2" / "checkpoints" / "best.ckpt", b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"


def test_the_data_is_fsynced_before_the_rename_and_the_directory_after(tmp_path, monkeypatch):
    path = tmp_path / "config.yaml"
    in_place_at_fsync = []
    real_fsync = os.fsync

    def recording(fd):
        in_place_at_fsync.append(path.exists())
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording)
    write_text(path, "seed: 0\n")
    assert in_place_at_fsync[0] is False  # the temporary's data, before it replaces the file
    if os.name == "posix":
        assert in_place_at_fsync[1:] == [True]  # the directory, holding the rename


def test_run_dir_names(tmp_path):
    run = RunDir(tmp_path)
    assert run.path == tmp_path and os.fspath(run) == str(tmp_path)
    assert run / run.CONFIG == tmp_path / "config.yaml"
    assert run / run.SUMMARY == tmp_path / "summary.json"
    assert run / run.PREPROCESSING == tmp_path / "preprocessing.json"
    assert run / run.SUBMISSION == tmp_path / "submission.csv"
    assert run.best_checkpoint == tmp_path / "checkpoints" / "best.ckpt"
    assert run.last_checkpoint == tmp_path / "checkpoints" / "last.ckpt"
    assert run.fold(3).path == tmp_path / "fold_3"
    assert run.fold(3).last_checkpoint == tmp_path / "fold_3" / "checkpoints" / "last.ckpt"


def test_json_and_csv_round_trip(tmp_path):
    run = RunDir(tmp_path)
    path = run.write_json(run.SUMMARY, {"status": "finished", "run_dir": tmp_path, "metrics": {"val/loss": 0.25}})
    assert json.loads(path.read_text()) == {
        "status": "finished",
        "run_dir": str(tmp_path),
        "metrics": {"val/loss": 0.25},
    }
    assert run.read_json(run.SUMMARY)["metrics"] == {"val/loss": 0.25}
    assert run.read_json(run.PREPROCESSING) is None
    frame = pd.DataFrame([[3, 1], [0, 4]], index=pd.Index(["a", "b"], name="true"), columns=["a", "b"])
    path = run.write_csv(run.CONFUSION_MATRIX_CSV, frame, index=True)
    assert path.read_text() == "true,a,b\na,3,1\nb,0,4\n"
    pd.testing.assert_frame_equal(pd.read_csv(path, index_col="true"), frame)


def test_save_config_writes_the_resolved_config_and_reads_back(tmp_path):
    cfg = OmegaConf.create({"optimizer": {"lr": 0.01, "name": "adam"}, "scheduler": {"base_lr": "${optimizer.lr}"}})
    path = RunDir(tmp_path).save_config(cfg)
    assert path == tmp_path / "config.yaml"
    assert "${" not in path.read_text()
    assert OmegaConf.to_container(OmegaConf.load(path)) == OmegaConf.to_container(cfg, resolve=True)


# Values whose YAML needs care: quoted because YAML would read them otherwise, folded, escaped,
# or written differently by libyaml's emitter than by PyYAML's Python one (those fall back).
AWKWARD = [
    *("null", "Null", "~", "yes", "no", "on", "off", "y", "n", "true", "False", "1e-3", "1.0", "0x1F", "1_000"),
    *(".inf", "-.inf", ".nan", "1:20", "2001-12-14", "???", "${first}", "a: b", "- x", "#c", "'q'", '"q"', "", " "),
    *(" a", "a ", "-", "---", "...", "@x", "`x", "!x", "%x", "&a", "*a", "|", ">", "=", "<<", "val/loss", "\\x"),
    *("x" * 300, " ".join(["word"] * 40), "a 'b' " * 30, "é", "日本", "a\nb", "a\n", "\t", "\x85", "\u2028"),
    *("\ufeff", "\x00", "\x7f", "\xa0", "\U0001f600", "'" * 70),
    *(None, True, False, 0, -7, 10**20, 0.0, -0.0, 1e-8, 1e16, 0.1, float("inf"), float("-inf"), float("nan")),
    *([], {}, [[]], [None, "null", 1.5], {"a": {"b": [1, {"c": "yes"}]}}),
]
AWKWARD_KEYS = ["k", "val/loss", "_target_", "yes", "null", "1", "a b", "#k", "é", ""]
AWKWARD_KEYS += ["k" * 60, "k" * 130, ("a b " * 40)[:125]]  # 123 to 128 characters: a simple key to libyaml only


def omegaconf_texts(cfg, overrides):
    """What config.yaml and overrides.yaml held before RunDir wrote them itself: OmegaConf.to_yaml's."""
    return OmegaConf.to_yaml(cfg, resolve=True), OmegaConf.to_yaml(OmegaConf.create(list(overrides)))


def saved_texts(run, cfg, overrides):
    run.save_config(cfg, overrides)
    return (run / run.CONFIG).read_text(encoding="utf-8"), (run / run.OVERRIDES).read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "overrides",
    [
        [],
        ["model=perceptron", "optimizer=sgd", "scheduler=plateau", "tune=lr_find", "trainer=cpu", "logger=csv"],
        ["data=csv", "data.train=my data.csv", "data.target='yes'", "data.drop=[a,'1e-3','null']", "data.id=null"],
        ["data=wave", "model.hidden=[]", "regularization=[dropout,early_stopping,weight_decay]", "seed=7"],
        ["experiment=digits", "optimizer.lr=3e-4", "trainer.max_time='00:01:00:00'", "monitor=val/acc", "mode=max"],
    ],
)
def test_save_config_writes_omegaconfs_text_byte_for_byte(tmp_path, overrides):
    from trainlab.config.composing import compose

    cfg, _ = compose(overrides)
    assert saved_texts(RunDir(tmp_path), cfg, overrides) == omegaconf_texts(cfg, overrides)
    if yaml.__with_libyaml__:  # trainlab's own configs are written by libyaml, not by the fallback
        plain = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
        assert config_yaml(plain, lambda: pytest.fail("fell back")) == OmegaConf.to_yaml(cfg, resolve=True)


def test_awkward_values_and_keys_are_written_as_omegaconf_writes_them(tmp_path):
    run = RunDir(tmp_path)
    for number, value in enumerate(AWKWARD):
        for key in AWKWARD_KEYS:
            cfg = OmegaConf.create({"first": number, key: value, "section": {key: value, "list": [value, key]}})
            overrides = [f"x={value}", key] if isinstance(value, str) else [value, key]
            assert saved_texts(run, cfg, overrides) == omegaconf_texts(cfg, overrides), (key, value)


def test_random_configs_are_written_as_omegaconf_writes_them():
    rng = random.Random(0)
    text = "".join(chr(i) for i in range(32, 127)) + "\n\té日\U0001f600"
    scalars = [None, True, 1, 1.0, "1", "null", "yes", "a: b", "x" * 130, " ".join(["w"] * 50)]

    def word(length: int) -> str:
        return "".join(rng.choice(text if rng.random() < 0.2 else "abc _:#'-") for _ in range(length))

    def value(depth: int) -> object:
        roll = rng.random()
        if depth < 3 and roll < 0.15:
            return {word(rng.choice([1, 5, 70])): value(depth + 1) for _ in range(rng.randint(0, 3))}
        if depth < 3 and roll < 0.3:
            return [value(depth + 1) for _ in range(rng.randint(0, 3))]
        return rng.choice(scalars) if roll < 0.6 else word(rng.choice([0, 3, 20, 100]))

    for _ in range(400):  # keys repeat across configs, with other values: kept entries must not leak
        cfg = OmegaConf.create({rng.choice(["a", "b", "c", word(3)]): value(0) for _ in range(rng.randint(1, 4))})
        plain = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
        assert config_yaml(plain, lambda cfg=cfg: OmegaConf.to_yaml(cfg, resolve=True)) == OmegaConf.to_yaml(
            cfg, resolve=True
        )


def test_hydras_own_config_is_written_as_omegaconf_writes_it():
    """.hydra/hydra.yaml of a stacked sweep's job (``section_yaml``): Hydra's section, whose help
    texts hold line breaks, and jobs that differ in a few of its entries."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from trainlab.config.composing import config_dir
    from trainlab.config.launch import register_resolvers
    from trainlab.config.schema import register

    register_resolvers()
    register()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3", job_name="train"):
        cfg = hydra_compose("train", overrides=["data=moons"], return_hydra_config=True)
    hydra = OmegaConf.masked_copy(cfg, "hydra")
    for number, task in enumerate([["seed=0"], ["seed=1", "x='yes'"], ["data.name=é日", "a=b: c"]] * 2):
        with open_dict(hydra):
            hydra.hydra.job.num, hydra.hydra.overrides.task = number, task
        section = OmegaConf.to_container(hydra.hydra, enum_to_str=True)
        assert section_yaml("hydra", section) == OmegaConf.to_yaml(hydra), task
    for value in AWKWARD:
        cfg = OmegaConf.create({"section": {"a": value, "b": [value, 1], "c": {"d": value}}})
        assert section_yaml("section", OmegaConf.to_container(cfg.section)) == OmegaConf.to_yaml(cfg), value
    assert section_yaml("empty", {}) == OmegaConf.to_yaml(OmegaConf.create({"empty": {}}))


def test_an_override_omegaconf_cannot_read_is_refused_as_before(tmp_path):
    run = RunDir(tmp_path)
    with pytest.raises(GrammarParseError):  # OmegaConf.create parses an interpolation, and refuses this one
        run.save_config(OmegaConf.create({"seed": 1}), ["seed=1", "data.name=${oops"])
    assert not (run / run.CONFIG).exists()
    cfg = OmegaConf.create({"seed": 1})
    overrides = ["data.name=${seed}", "x=\\${y}", "y=???", 3]
    assert saved_texts(run, cfg, overrides) == omegaconf_texts(cfg, overrides)


@pytest.fixture
def without_libyaml(monkeypatch):
    from trainlab.files import config_text

    monkeypatch.setattr(yaml, "__with_libyaml__", False)
    config_text._libyaml_dumper.cache_clear()
    yield
    config_text._libyaml_dumper.cache_clear()


def test_without_libyaml_omegaconf_writes_the_config(tmp_path, without_libyaml):
    cfg = OmegaConf.create({"optimizer": {"lr": 0.01, "name": "1e-3"}, "scheduler": {"base_lr": "${optimizer.lr}"}})
    fell_back = []

    def to_yaml() -> str:
        fell_back.append(True)
        return OmegaConf.to_yaml(cfg, resolve=True)

    assert config_yaml(OmegaConf.to_container(cfg, resolve=True), to_yaml) == OmegaConf.to_yaml(cfg, resolve=True)
    assert fell_back == [True]
    assert saved_texts(RunDir(tmp_path), cfg, ["seed=1"]) == omegaconf_texts(cfg, ["seed=1"])
    section = OmegaConf.to_container(cfg.optimizer)
    assert section_yaml("optimizer", section) == OmegaConf.to_yaml(OmegaConf.masked_copy(cfg, "optimizer"))


def test_a_directory_holding_a_run_is_refused_naming_resume(tmp_path):
    run = RunDir(tmp_path / "run")
    assert run.holds_a_run() is None
    run.refuse_existing()  # an empty or missing directory is free
    run.save_config(OmegaConf.create({"seed": 0}))
    assert run.holds_a_run() == "config.yaml"
    with pytest.raises(ConfigError, match=rf"already holds a run \(config\.yaml\).*resume={run.path}"):
        run.refuse_existing()


def test_stale_temporaries_are_removed_and_nothing_else(tmp_path):
    run = RunDir(tmp_path)
    for name in ("summary.json.tmp", "checkpoints/last.ckpt.tmp", "checkpoints/best.ckpt", "config.yaml"):
        write_text(tmp_path / name, "x")
    run.remove_stale_temporaries()
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert left == ["checkpoints/best.ckpt", "config.yaml"]

"""Hydra sweep grammar -> SigOpt parameters (and back to overrides), including what SigOpt cannot express."""

from __future__ import annotations

import pytest
from conftest import REPO_ROOT
from hydra import compose, initialize_config_dir
from hydra.types import RunMode

from hydra_plugins.sigopt_sweeper.api import SweepConfigError, parse_search_space


def test_interval_kinds_map_to_sigopt_types():
    space = parse_search_space(
        {
            "a": "interval(0, 1)",
            "b": "int(interval(1, 20))",
            "c": "tag(log, interval(2e-6, 0.1))",
            "d": "choice(4, 8, 16)",
            "e": "choice(0.1, 0.5)",
            "f": "choice(adamw, sgd)",
            "g": "range(1, 7, 2)",
            "h": "3",
        }
    )
    by_name = {spec["name"]: spec for spec in space.to_sigopt()}
    assert by_name["a"] == {"name": "a", "type": "double", "bounds": {"min": 0.0, "max": 1.0}}
    assert by_name["b"] == {"name": "b", "type": "int", "bounds": {"min": 1, "max": 20}}
    assert by_name["c"] == {"name": "c", "type": "double", "bounds": {"min": 2e-6, "max": 0.1}, "transformation": "log"}
    assert by_name["d"] == {"name": "d", "type": "int", "grid": [4, 8, 16]}
    assert by_name["e"] == {"name": "e", "type": "double", "grid": [0.1, 0.5]}
    assert by_name["f"] == {"name": "f", "type": "categorical", "categorical_values": ["adamw", "sgd"]}
    assert by_name["g"] == {"name": "g", "type": "int", "grid": [1, 3, 5]}
    assert "h" not in by_name and space.fixed == (("h", "3"),)


def test_assignments_become_overrides_hydra_parses_back_exactly():
    space = parse_search_space(
        {"lr": "tag(log, interval(1e-6, 1e-1))", "n": "int(interval(1, 20))", "opt": "choice(adamw, sgd)"},
        ["trainer.max_epochs=3"],
    )
    overrides = space.overrides({"lr": 3.0000000000000004e-05, "n": 7, "opt": "sgd"})
    assert overrides == ["trainer.max_epochs=3", "lr=3.0000000000000004e-05", "n=7", "opt=sgd"]


def test_command_line_sweep_overrides_replace_config_params():
    space = parse_search_space({"n": "int(interval(1, 20))"}, ["n=int(interval(2, 4))", "experiment=smoke"])
    assert space.to_sigopt() == [{"name": "n", "type": "int", "bounds": {"min": 2, "max": 4}}]
    assert space.fixed == (("experiment", "smoke"),)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"x": "interval(1, 1)"}, r"hydra\.sweeper\.params\.x: interval min 1\.0 must be < max 1\.0"),
        ({"x": "interval(2, 1)"}, r"min 2\.0 must be < max 1\.0"),
        ({"x": "tag(log, interval(0, 1))"}, r"hydra\.sweeper\.params\.x: a log-scaled interval needs min > 0"),
        ({"x": "tag(log, int(interval(1, 64)))"}, r"log transformation to doubles only"),
        ({"x": "glob(*)"}, r"hydra\.sweeper\.params\.x: Glob sweeps are not numeric ranges or choices"),
        ({"x": "choice(1)"}, r"at least two values"),
        ({"x": "tag(grid, interval(0, 1))"}, r"unknown tag"),
        ({"x": "interval(0, "}, r"hydra\.sweeper\.params\.x: cannot parse"),
        ({}, r"search space is empty"),
    ],
)
def test_what_sigopt_cannot_express_is_refused_naming_the_key(params, message):
    with pytest.raises(SweepConfigError, match=message):
        parse_search_space(params)


def test_table2_config_is_the_spec_space():
    with initialize_config_dir(config_dir=str(REPO_ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="train")
    space = parse_search_space(dict(cfg.search_space))
    specs = {spec["name"]: spec for spec in space.to_sigopt()}
    assert len(specs) == 18
    assert {name for name, spec in specs.items() if spec.get("transformation") == "log"} == {
        "optimizer.learning_rate",
        "optimizer.adam_epsilon",
        "optimizer.weight_decay",
    }
    assert specs["student.n_layers"]["bounds"] == {"min": 1, "max": 20}
    assert specs["student.n_heads"]["bounds"] == {"min": 1, "max": 12}
    assert specs["optimizer.learning_rate"]["bounds"] == {"min": 2e-6, "max": 0.1}
    assert specs["optimizer.weight_decay"]["bounds"] == {"min": 8.3e-7, "max": 0.018}
    assert specs["distillation.temperature"]["bounds"] == {"min": 1.0, "max": 10.0}
    ints = {name for name, spec in specs.items() if spec["type"] == "int"}
    assert ints == {
        "student.n_layers",
        "student.n_heads",
        "student.pruning_seed",
        "optimizer.warmup_steps",
        "data.train_batch_size",
        "data.eval_batch_size",
    }


@pytest.mark.parametrize(
    ("overrides", "sweeper", "n_layers_max"),
    [
        (["hydra/sweeper=sigopt"], "SigOptSweeper", 20),
        (["hparams_search=sigopt"], "SigOptSweeper", 20),
        (["experiment=smoke", "hparams_search=sigopt_smoke"], "SigOptSweeper", 3),
        (["experiment=smoke", "hydra/sweeper=sigopt"], "SigOptSweeper", 3),
        (["experiment=offline_search", "hparams_search=sigopt_offline"], "SigOptSweeper", 6),
        (["experiment=offline_search", "hparams_search=optuna_offline"], "OptunaSweeper", 6),
        (["experiment=offline_search", "hparams_search=optuna_offline_random"], "OptunaSweeper", 6),
        (["experiment=offline_search", "hparams_search=optuna_offline_motpe"], "OptunaSweeper", 6),
        (["experiment=offline_search", "hydra/sweeper=sigopt"], "SigOptSweeper", 6),
        (["experiment=offline", "hydra/sweeper=sigopt"], "SigOptSweeper", 6),
        (["hparams_search=optuna_pareto"], "OptunaSweeper", 20),
    ],
)
def test_sweep_presets_compose_with_their_search_space(overrides, sweeper, n_layers_max):
    with initialize_config_dir(config_dir=str(REPO_ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides, return_hydra_config=True)
    assert cfg.hydra.sweeper._target_.endswith(sweeper)
    params = cfg.hydra.sweeper.params  # resolves to the job config's search_space
    space = parse_search_space(dict(params))
    n_layers = next(p for p in space.parameters if p.name == "student.n_layers")
    assert n_layers.bounds == (1, n_layers_max)


@pytest.mark.parametrize("preset", sorted(path.stem for path in (REPO_ROOT / "conf" / "hparams_search").glob("*.yaml")))
def test_sweep_presets_sweep_without_dash_m(preset):
    """Forgetting ``-m`` must not silently train one model with the preset's defaults."""
    with initialize_config_dir(config_dir=str(REPO_ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="train", overrides=[f"hparams_search={preset}"], return_hydra_config=True)
    assert cfg.hydra.mode == RunMode.MULTIRUN


@pytest.mark.parametrize("preset", ["sigopt_offline", "optuna_offline_random"])
def test_offline_narrow_space_narrows_only_what_it_names(preset):
    """search_space=offline_narrow overrides the preset's space and keeps every other range of offline's."""

    def space(*overrides: str) -> dict:
        with initialize_config_dir(config_dir=str(REPO_ROOT / "conf"), version_base="1.3"):
            cfg = compose(config_name="train", overrides=["experiment=offline_search", f"hparams_search={preset}", *overrides],
                          return_hydra_config=True)  # fmt: skip
        return {spec["name"]: spec for spec in parse_search_space(dict(cfg.hydra.sweeper.params)).to_sigopt()}

    offline, narrow = space(), space("search_space=offline_narrow")
    assert narrow["student.n_layers"]["bounds"] == {"min": 4, "max": 6}
    assert narrow["student.n_heads"]["bounds"] == {"min": 4, "max": 12}
    assert narrow["optimizer.learning_rate"] == {**offline["optimizer.learning_rate"], "bounds": {"min": 2e-6, "max": 1e-3}}
    narrowed = {"student.n_layers", "student.n_heads", "optimizer.learning_rate"}
    assert {k: v for k, v in narrow.items() if k not in narrowed} == {k: v for k, v in offline.items() if k not in narrowed}


@pytest.mark.parametrize(
    ("overrides", "ffn_bounds"),
    [(["experiment=offline_search", "hparams_search=sigopt_offline"], (192, 1536)),
     (["hydra/sweeper=sigopt", "search_space=table2_shrink"], (768, 3072))],
)
def test_ffn_width_and_vocabulary_are_searchable(overrides, ffn_bounds):
    """Issue 32: the offline space and Table 2's extension search the FFN width and the vocabulary cut,
    and a trial's values for them compose into a runnable config."""
    with initialize_config_dir(config_dir=str(REPO_ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides, return_hydra_config=True)
        space = {p.name: p for p in parse_search_space(dict(cfg.hydra.sweeper.params)).parameters}
        assert space["student.ffn_dim"].bounds == ffn_bounds and space["student.ffn_dim"].type == "int"
        assert space["student.vocab.min_count"].grid == (0, 1, 2, 4, 8)
        trial = compose(config_name="train", overrides=[overrides[0], f"student.ffn_dim={ffn_bounds[0]}", "student.vocab.min_count=8"])
    assert (trial.student.ffn_dim, trial.student.vocab.min_count) == (ffn_bounds[0], 8)


def test_the_offline_space_has_no_inert_dimensions():
    """Issue 33: initializer_range (every tensor is seeded from the teacher) and eval_batch_size (scoring speed
    only) are not searched offline; 17 dimensions remain, so lite's random phase ends after 34 valid trials."""
    with initialize_config_dir(config_dir=str(REPO_ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="train", overrides=["experiment=offline_search", "hparams_search=sigopt_offline"],
                      return_hydra_config=True)  # fmt: skip
    names = {p.name for p in parse_search_space(dict(cfg.hydra.sweeper.params)).parameters}
    assert not names & {"student.initializer_range", "data.eval_batch_size"}
    assert len(names) == 17

"""The teacher-logit cache: equality with the live teacher, staleness, concurrency, sweep reuse."""

from __future__ import annotations

import multiprocessing
import shutil

import numpy as np
import pytest
import torch
from test_train import compose_config

from hydra_plugins.sigopt_sweeper.api import INFRASTRUCTURE_MARKER
from lightning_distill.data.datamodule import TEACHER_END, TEACHER_START, SquadDataModule
from lightning_distill.data.teacher_logit_cache import TeacherCacheSettings, TeacherLogitCache
from lightning_distill.errors import ConfigError, DataError
from lightning_distill.models.teacher import build_random_teacher
from lightning_distill.models.teacher_fingerprint import teacher_fingerprint
from lightning_distill.storage.cache_manifest import CacheDamagedError
from lightning_distill.training.distillation_loss import DistillationLoss
from lightning_distill.training.pipeline import prepare, train
from lightning_distill.training.teacher_setup import TeacherSetup

STORAGE_RTOL = {"float16": 2**-10, "bfloat16": 2**-7, "float32": 1e-5}
"""Relative rounding of each storage dtype (one ulp, with margin), on top of ABS_TOL."""
ABS_TOL = 1e-5
"""What differs between a live batch and the build's batches: float rounding of other padded shapes."""


def smoke_cfg(tmp_path, *overrides):
    cfg = compose_config(["experiment=smoke", "logger=[]", f"paths.cache_dir={tmp_path / 'cache'}", *overrides],
                         tmp_path / "run")
    return cfg


def datamodule_for(cfg, tokenizer) -> SquadDataModule:
    from lightning_distill.config.instantiate import instantiate

    return instantiate(cfg.data, tokenizer=tokenizer)


@pytest.fixture
def random_teacher(tokenizer):
    return build_random_teacher(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2,
                                num_attention_heads=2, intermediate_size=64, seed=3)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
def test_cached_logits_equal_the_live_teacher_within_storage_rounding(tmp_path, tokenizer, random_teacher, dtype):
    cfg = smoke_cfg(tmp_path, "data.max_train_examples=24")
    datamodule = datamodule_for(cfg, tokenizer)
    datamodule.setup("fit")
    cache = TeacherLogitCache(TeacherCacheSettings(dir=str(tmp_path / "logits"), dtype=dtype, build_batch_size=5),
                              "teacher-under-test", datamodule.features_key("train"))
    assert cache.build(lambda: random_teacher, datamodule.train_features)
    datamodule.attach_teacher_logits(cache.open(datamodule.train_features))
    loss = DistillationLoss(temperature=2.0)
    compared = 0
    for batch in datamodule.train_dataloader():
        with torch.no_grad():
            live = random_teacher(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                  token_type_ids=batch["token_type_ids"])  # a BERT teacher gets its segment ids
        real = batch["attention_mask"].bool()
        for cached, fresh in ((batch[TEACHER_START], live.start_logits), (batch[TEACHER_END], live.end_logits)):
            assert cached.dtype == torch.float32
            torch.testing.assert_close(cached[real], fresh[real], rtol=STORAGE_RTOL[dtype], atol=ABS_TOL)
            compared += int(real.sum())
        # the soft loss the student sees is the live one up to the same rounding
        student = torch.randn_like(batch[TEACHER_START])
        args = (student, student, batch["start_positions"], batch["end_positions"], batch["attention_mask"])
        from_cache = loss(*args, batch[TEACHER_START], batch[TEACHER_END]).soft
        from_live = loss(*args, live.start_logits, live.end_logits).soft
        torch.testing.assert_close(from_cache, from_live, rtol=10 * STORAGE_RTOL[dtype], atol=ABS_TOL)
    assert compared == 2 * int(datamodule.lengths("train").sum())


def test_cache_stores_only_real_tokens_and_rejects_features_it_was_not_built_for(tmp_path, tokenizer, random_teacher):
    cfg = smoke_cfg(tmp_path, "data.max_train_examples=8")
    datamodule = datamodule_for(cfg, tokenizer)
    datamodule.setup("fit")
    cache = TeacherLogitCache(TeacherCacheSettings(dir=str(tmp_path / "logits")), "t", datamodule.features_key("train"))
    cache.build(lambda: random_teacher, datamodule.train_features)
    logits = cache.open(datamodule.train_features)
    assert logits.logits.dtype == np.float16 and isinstance(logits.logits, np.memmap)
    assert logits.logits.shape == (int(datamodule.lengths("train").sum()), 2)
    with pytest.raises(CacheDamagedError, match="features' lengths are not those of the"):  # a search re-runs it
        cache.open(datamodule.train_features.select(range(len(datamodule.train_features) - 1)))


def test_a_cache_swapped_for_another_teachers_is_rebuilt_and_reading_it_is_an_infrastructure_failure(
    tmp_path, tokenizer, random_teacher
):
    """Issue 36: another teacher's cache copied over this one while a sweep runs. Reading it names it (and a search
    re-runs the trial, CacheDamagedError is infrastructure); the next build rebuilds it instead of trusting it."""
    import shutil

    cfg = smoke_cfg(tmp_path, "data.max_train_examples=8")
    datamodule = datamodule_for(cfg, tokenizer)
    datamodule.setup("fit")
    settings = TeacherCacheSettings(dir=str(tmp_path / "logits"))
    ours = TeacherLogitCache(settings, "teacher-a", datamodule.features_key("train"))
    other = TeacherLogitCache(settings, "teacher-b", datamodule.features_key("train"))
    ours.build(lambda: random_teacher, datamodule.train_features)
    other.build(lambda: random_teacher, datamodule.train_features)
    shutil.rmtree(ours.path)
    shutil.copytree(other.path, ours.path)  # a consistent cache (its manifest checks out), of another key
    with pytest.raises(CacheDamagedError, match=f"holds key '{other.key}'") as raised:
        ours.open(datamodule.train_features)
    assert getattr(raised.value, INFRASTRUCTURE_MARKER) is True
    assert ours.build(lambda: random_teacher, datamodule.train_features) is True  # rebuilt, not trusted
    assert ours.open(datamodule.train_features).logits.shape[0] == int(datamodule.lengths("train").sum())


def _key(cfg, tokenizer_fixture):
    datamodule = datamodule_for(cfg, tokenizer_fixture)
    return TeacherSetup(cfg, tokenizer_fixture, datamodule).cache.key


def test_cache_key_ignores_trial_settings_and_changes_with_teacher_featurization_and_data(tmp_path, tokenizer):
    base = _key(smoke_cfg(tmp_path), tokenizer)
    trial_settings = [
        "student.n_layers=1", "student.n_heads=2", "student.base_n_heads=2", "optimizer.learning_rate=0.01",
        "optimizer.beta1=0.8", "distillation.temperature=4", "distillation.soft_weight=0.9",
        "distillation.hard_weight=0.1", "data.train_batch_size=4", "data.eval_batch_size=32",
        "data.padding=max_length", "data.group_by_length=true", "trainer.precision=bf16-mixed", "seed=7",
    ]
    assert _key(smoke_cfg(tmp_path, *trial_settings), tokenizer) == base
    for stale in ["teacher.seed=1", "teacher.hidden_size=64", "data.max_seq_length=256", "data.doc_stride=64",
                  "data.max_query_length=32", "data.max_train_examples=40", "data.subset_seed=1",
                  "teacher.cache.dtype=float32",
                  "data.train_files=[${paths.squad_dir}/dev-v2.0.splitA.json]"]:
        assert _key(smoke_cfg(tmp_path, stale), tokenizer) != base, stale


def test_checkpoint_fingerprint_follows_content_not_path(tmp_path):
    from transformers import BertConfig, BertForQuestionAnswering

    config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    torch.manual_seed(0)
    BertForQuestionAnswering(config).save_pretrained(tmp_path / "a")
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    target = {"_target_": "lightning_distill.models.teacher.load_teacher"}
    first = teacher_fingerprint({**target, "name_or_path": str(tmp_path / "a")})
    assert teacher_fingerprint({**target, "name_or_path": str(tmp_path / "b")}) == first
    torch.manual_seed(1)
    BertForQuestionAnswering(config).save_pretrained(tmp_path / "a")  # retrained in place
    assert teacher_fingerprint({**target, "name_or_path": str(tmp_path / "a")}) != first


def _build_in_subprocess(cache_dir, features_dir, vocab_size, queue):
    import time

    import datasets

    features = datasets.load_from_disk(features_dir)

    def slow_teacher():
        time.sleep(1.0)  # make the builds overlap
        return build_random_teacher(vocab_size=vocab_size, seed=3)

    cache = TeacherLogitCache(TeacherCacheSettings(dir=cache_dir), "same-teacher", "same-features")
    built = cache.build(slow_teacher, features)
    logits = cache.open(features)
    queue.put((built, np.asarray(logits.logits).tolist()))


def test_concurrent_builds_compute_once_and_never_expose_a_partial_cache(tmp_path, tokenizer):
    import datasets

    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 40, size=30)
    features = datasets.Dataset.from_dict({
        "input_ids": [rng.integers(1000, 2000, size=n).tolist() for n in lengths],
        "attention_mask": [[1] * n for n in lengths],
        "token_type_ids": [[0] * (n // 2) + [1] * (n - n // 2) for n in lengths],
    })
    features.save_to_disk(str(tmp_path / "features"))
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=_build_in_subprocess,
                               args=(str(tmp_path / "logits"), str(tmp_path / "features"), len(tokenizer), queue))
               for _ in range(2)]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    assert sorted(built for built, _ in results) == [False, True]  # one computed, the other waited and reused
    assert results[0][1] == results[1][1]
    assert [path.name for path in (tmp_path / "logits").iterdir() if not path.name.endswith(".lock")] == [
        f"train-{TeacherLogitCache(TeacherCacheSettings(dir='x'), 'same-teacher', 'same-features').key}"
    ]


def test_a_failed_build_leaves_nothing_behind(tmp_path, tokenizer, random_teacher):
    cfg = smoke_cfg(tmp_path, "data.max_train_examples=8")
    datamodule = datamodule_for(cfg, tokenizer)
    datamodule.setup("fit")
    cache = TeacherLogitCache(TeacherCacheSettings(dir=str(tmp_path / "logits")), "t", datamodule.features_key("train"))

    class Broken(torch.nn.Module):
        def forward(self, **_):
            raise RuntimeError("CUDA out of memory (simulated)")

    with pytest.raises(RuntimeError, match="simulated"):
        cache.build(lambda: Broken(), datamodule.train_features)
    assert not cache.is_built()
    assert [path.name for path in (tmp_path / "logits").iterdir() if not path.name.endswith(".lock")] == []
    assert cache.build(lambda: random_teacher, datamodule.train_features)


def test_prepare_builds_once_and_trials_never_load_the_teacher(tmp_path, monkeypatch):
    cfg = smoke_cfg(tmp_path)
    prepare(cfg)
    built = list((tmp_path / "cache" / "teacher_logits").glob("train-*/meta.json"))
    assert len(built) == 1
    stamp = built[0].stat().st_mtime_ns
    features = sorted(path.name for path in (tmp_path / "cache" / "features").iterdir() if not path.name.startswith("."))
    assert [name.split("-")[0] for name in features] == ["eval", "train"]

    def no_teacher(*args, **kwargs):
        raise AssertionError("a trial loaded the teacher although its logits are cached")

    monkeypatch.setattr("lightning_distill.models.teacher.build_random_teacher", no_teacher)
    prepare(cfg)  # idempotent, cheap
    trial = smoke_cfg(tmp_path, "student.n_layers=1", "data.train_batch_size=4", "distillation.temperature=3",
                      "optimizer.learning_rate=1e-3")
    metrics = train(trial)
    assert "train/soft_loss" in metrics and np.isfinite(metrics["train/loss"])
    assert built[0].stat().st_mtime_ns == stamp
    after = sorted(path.name for path in (tmp_path / "cache" / "features").iterdir() if not path.name.startswith("."))
    assert after == features, (after, features)


def test_cached_teacher_trains_exactly_like_the_live_teacher(tmp_path):
    cached = train(smoke_cfg(tmp_path / "a", "teacher.cache.dtype=float32"))
    live = train(smoke_cfg(tmp_path / "b", "teacher.cache.enabled=false"))
    assert not (tmp_path / "b" / "cache" / "teacher_logits").exists()
    for name in ("train/soft_loss", "train/hard_loss", "train/loss", "val_loss", "f1"):
        assert cached[name] == pytest.approx(live[name], rel=1e-4, abs=1e-6), name


@pytest.mark.parametrize(
    "override, key",
    [
        ("teacher.cache.dtype=int8", "teacher.cache.dtype"),
        ("teacher.cache.enabled=maybe", "teacher.cache.enabled"),
        ("teacher.cache.build_batch_size=0", "teacher.cache.build_batch_size"),
        ("teacher.cache.build_device=tpu", "teacher.cache.build_device"),
        ("+teacher.cache.colour=blue", "teacher.cache.colour"),
    ],
)
def test_bad_cache_settings_fail_early_naming_the_key(tmp_path, override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        train(smoke_cfg(tmp_path, override))
    assert not (tmp_path / "cache" / "features").exists()


def test_no_teacher_means_no_cache(tmp_path):
    cfg = smoke_cfg(tmp_path, "teacher=none")
    prepare(cfg)
    assert (tmp_path / "cache" / "features").is_dir()
    assert not (tmp_path / "cache" / "teacher_logits").exists()


def test_features_key_does_not_depend_on_what_the_tokenizer_did_before(tmp_path, tokenizer):
    """Featurizing leaves truncation settings on the Rust tokenizer; the cache key must not see them."""
    cfg = smoke_cfg(tmp_path)
    datamodule = datamodule_for(cfg, tokenizer)
    before = datamodule.features_key("train")
    tokenizer("a question", "a context", truncation="only_second", max_length=17, stride=3,
              return_overflowing_tokens=True)
    assert datamodule_for(cfg, tokenizer).features_key("train") == before


# -- caches that prove themselves (issue 22, item 2) ------------------------------------------------


def _zero(path):
    path.write_bytes(bytes(path.stat().st_size))


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _nan(path):
    logits = np.load(path, mmap_mode="r+")
    logits[:3] = np.nan
    logits.flush()


@pytest.mark.parametrize("damage", [_zero, _truncate, _nan], ids=["zeroed", "truncated", "nan"])
def test_a_damaged_logit_cache_is_one_clear_error_naming_the_file_and_build_repairs_it(
    tmp_path, tokenizer, random_teacher, damage
):
    cfg = smoke_cfg(tmp_path, "data.max_train_examples=8")
    datamodule = datamodule_for(cfg, tokenizer)
    datamodule.setup("fit")
    cache = TeacherLogitCache(TeacherCacheSettings(dir=str(tmp_path / "logits")), "t", datamodule.features_key("train"))
    assert cache.build(lambda: random_teacher, datamodule.train_features)
    good = cache.open(datamodule.train_features).feature(0).clone()
    damage(cache.path / "logits.npy")
    with pytest.raises(DataError, match=r"teacher-logit cache .* is damaged: .*logits\.npy"):
        cache.open(datamodule.train_features)
    assert cache.build(lambda: random_teacher, datamodule.train_features), "build rebuilds a damaged cache"
    assert torch.equal(cache.open(datamodule.train_features).feature(0), good)


def test_damaged_features_are_featurized_again(tmp_path, tokenizer, caplog):
    cfg = smoke_cfg(tmp_path, "data.max_train_examples=8")
    first = datamodule_for(cfg, tokenizer)
    first.setup("fit")
    (arrow,) = (tmp_path / "cache" / "features").glob("train-*/data-*.arrow")
    _truncate(arrow)
    second = datamodule_for(cfg, tokenizer)
    second.setup("fit")
    assert "are damaged" in caplog.text and arrow.name in caplog.text
    assert second.train_features["input_ids"] == first.train_features["input_ids"]


def test_a_sweep_whose_shared_data_cannot_be_prepared_starts_no_trial(tmp_path):
    """A failure preparing the shared data (here: the cache directory is a file) stops the multirun, exit 1."""
    from test_sigopt_sweeper import run

    blocker = tmp_path / "cache"
    blocker.write_text("not a directory")
    result = run(["train.py", "-m", "experiment=smoke", "hparams_search=sigopt_smoke", "logger=[]",
                  f"paths.cache_dir={blocker}", f"hydra.sweep.dir={tmp_path / 'sweep'}"], timeout=300)  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert "Preparing the shared features and teacher cache failed, so no trial was started" in output
    assert not (tmp_path / "sweep" / "journal.jsonl").exists() or '"started"' not in (
        tmp_path / "sweep" / "journal.jsonl"
    ).read_text()

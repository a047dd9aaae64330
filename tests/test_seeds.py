"""deepshrink.seeds: every derived seed keeps the value runs and studies were made with, and is derived there only."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from deepshrink import seeds
from deepshrink.data import SignalDataset
from deepshrink.study.spec import fold_dataset, run_config
from deepshrink.study.spec import expand_runs, study_from_dict
from deepshrink.seeds import PART_NOISE, Purpose, derive_seed
from deepshrink.train.config import config_from_dict
from deepshrink.train.distributed import epoch_permutation
from deepshrink.train.prepare import clean_parts, prepare_data

SRC = Path(__file__).resolve().parents[1] / "src" / "deepshrink"


# The formulas as they were written inline before deepshrink.seeds existed (train/run.py,
# train/engine.py, train/distributed.py, data/dataset.py, study/spec.py and thresholds.py).
def old_run_seed(seed, purpose):
    return int(np.random.SeedSequence([int(seed), int(purpose), 0x5EED]).generate_state(1)[0])


def old_epoch_rng(seed, epoch, rank):
    return int(np.random.SeedSequence([int(seed), int(epoch), int(rank), 0xD5]).generate_state(1)[0])


def old_noise_epoch(seed, epoch):
    state = np.random.SeedSequence([seed, epoch]).generate_state(2, dtype=np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1]))


def old_shuffle(seed, epoch):
    return (int(seed) * 1_000_003 + int(epoch) * 7919 + 12345) % (2**63 - 1)


SEEDS = [0, 1, 2, 7, 41, 999, 123456789, 2**31 - 1, 2**32 + 5]


@pytest.mark.parametrize("seed", SEEDS)
def test_every_purpose_equals_the_formula_runs_were_made_with(seed):
    for purpose, number in [(Purpose.VAL_SPLIT, 1), (Purpose.TRAIN_NOISE, 11), (Purpose.VAL_NOISE, 12),
                            (Purpose.TEST_NOISE, 13), (Purpose.ALL_NOISE, 14)]:  # fmt: skip
        assert derive_seed(seed, purpose) == old_run_seed(seed, number)
    for epoch in (0, 1, 5, 99):
        assert derive_seed(seed, Purpose.NOISE_EPOCH, epoch) == old_noise_epoch(seed, epoch)
        assert derive_seed(seed, Purpose.SHUFFLE, epoch) == old_shuffle(seed, epoch)
        for rank in (0, 1, 3):
            assert derive_seed(seed, Purpose.EPOCH_RNG, epoch, rank) == old_epoch_rng(seed, epoch, rank)
    for k in range(12):
        assert derive_seed(seed, Purpose.FOLD, k) == seed * 1000 + k
        assert derive_seed(seed, Purpose.THRESHOLD_NOISE, k) == seed * 1000 + k + 1
    for same in (Purpose.INIT, Purpose.TEST_SPLIT, Purpose.FOLD_SPLIT, Purpose.THRESHOLD_SIGNALS):
        assert derive_seed(seed, same) == seed
    assert derive_seed(seed, Purpose.ESTIMATOR_SPLIT) == seed % 2**32


def test_pinned_values():
    # computed with the code before deepshrink.seeds (commit d22952c)
    assert [derive_seed(0, p) for p in ("val_split", "train_noise", "val_noise", "test_noise", "all_noise")] == [
        759045492, 308959319, 292737274, 2089006468, 2694555430]  # fmt: skip
    assert [derive_seed(7, PART_NOISE[p]) for p in ("train", "val", "test", "all")] == [
        2846539708, 2718824264, 1149349553, 1916189893]  # fmt: skip
    assert derive_seed(123456789, Purpose.VAL_SPLIT) == 3627532262
    assert derive_seed(123456789, Purpose.TEST_NOISE) == 383153180
    assert derive_seed(0, Purpose.EPOCH_RNG, 0, 0) == 94721348
    assert derive_seed(7, Purpose.EPOCH_RNG, 3, 1) == 41029396
    assert derive_seed(123456789, Purpose.EPOCH_RNG, 99, 2) == 575749702
    assert derive_seed(0, Purpose.NOISE_EPOCH, 0) == 6375474604893067239
    assert derive_seed(7, Purpose.NOISE_EPOCH, 3) == 7443599362937997628
    assert derive_seed(123456789, Purpose.NOISE_EPOCH, 99) == 157493991474325028
    assert derive_seed(7, Purpose.SHUFFLE, 3) == 7036123
    assert derive_seed(2**62, Purpose.SHUFFLE, 5) == 4611686018427939845
    assert epoch_permutation(10, 7, 3).tolist() == [1, 6, 4, 8, 7, 2, 3, 9, 0, 5]
    assert derive_seed(4, Purpose.FOLD, 1) == 4001
    assert derive_seed(2, Purpose.THRESHOLD_NOISE, 0) == 2001


def test_names_are_distinct_and_a_runs_draws_do_not_share_a_seed():
    assert len({p.value for p in Purpose}) == len(Purpose)
    assert len({p.name for p in Purpose}) == len(Purpose)
    assert set(PART_NOISE.values()) == {Purpose.TRAIN_NOISE, Purpose.VAL_NOISE, Purpose.TEST_NOISE, Purpose.ALL_NOISE}
    for seed in SEEDS:
        drawn = [derive_seed(seed, p) for p in (Purpose.TEST_SPLIT, Purpose.VAL_SPLIT, *PART_NOISE.values())]
        assert len(set(drawn)) == len(drawn)


def test_purpose_by_name_and_wrong_calls():
    assert derive_seed(3, "test_noise") == derive_seed(3, Purpose.TEST_NOISE)
    with pytest.raises(ValueError, match="train_nosie"):
        derive_seed(3, "train_nosie")
    with pytest.raises(TypeError, match="SHUFFLE.*1 key"):
        derive_seed(3, Purpose.SHUFFLE)
    with pytest.raises(TypeError, match="TEST_NOISE.*0 key"):
        derive_seed(3, Purpose.TEST_NOISE, 1)
    with pytest.raises(TypeError, match="integers"):
        derive_seed(1.5, Purpose.TEST_NOISE)
    with pytest.raises(TypeError, match="integers"):
        derive_seed(True, Purpose.FOLD, 1)
    assert derive_seed(np.int64(7), Purpose.SHUFFLE, np.int32(3)) == 7036123


def test_the_module_table_names_every_purpose():
    table = seeds.__doc__
    for purpose in Purpose:
        assert re.search(rf"^{purpose.name}\s", table, re.MULTILINE), purpose.name


def test_no_seed_is_derived_outside_the_seeds_module():
    patterns = [r"SeedSequence\(", r"\*\s*1000\s*\+", r"0x5EED", r"1_000_003", r"\b0xD5\b"]
    found = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        # the simulator's recording_rng (one stream per simulated recording, from the dataset
        # seed and its condition) makes the data rather than a run's draws, and is documented there
        if rel == "seeds.py" or rel.startswith("data/simulate"):
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if any(re.search(p, line) for p in patterns):
                found.append(f"{rel}:{n}: {line.strip()}")
    assert not found, "derive these with deepshrink.seeds.derive_seed:\n" + "\n".join(found)


# ---------------------------------------------------------------------- the derivations in use
def _dataset(n_rec=12, per=4):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n_rec * per, 1, 32)).astype(np.float32)
    y = np.repeat(np.arange(n_rec) % 3, per)
    return SignalDataset(x, y, label_names=["a", "b", "c"], recording_ids=np.repeat(np.arange(n_rec), per),
                         conditions={"speed": np.arange(n_rec * per) % 2}, name="toy")


def test_a_runs_parts_draw_from_their_named_seeds():
    ds = _dataset()
    cfg = config_from_dict({"model": "resnet_paper6", "data": "toy", "noise": "gaussian", "snr": 0, "seed": 5,
                            "val_fraction": 0.25, "test_fraction": 0.25}, source="test")  # fmt: skip
    data = prepare_data(cfg, ds)
    train, val, test = clean_parts(cfg, ds)
    for part, noisy, name in ((train, data.train, "train"), (val, data.val, "val"), (test, data.test, "test")):
        again = part.with_noise(0.0, "gaussian", seed=derive_seed(5, PART_NOISE[name]))
        assert torch.equal(noisy.x, again.x), name
        assert noisy.seed == derive_seed(5, PART_NOISE[name])


def test_a_study_fold_gets_its_seed_and_fold_assignment_from_the_study_seed():
    spec = study_from_dict({"name": "f", "data": "simulator", "models": ["resnet_paper6"], "noises": ["gaussian"],
                            "snrs": [0], "seeds": [3], "folds": 3}, source="test")  # fmt: skip
    runs = expand_runs(spec)
    assert sorted(run_config(spec, r).seed for r in runs) == [3000, 3001, 3002]
    ds = _dataset()
    before = {k: v.copy() for k, v in ds.conditions.items()}
    tests = []
    for fold in range(3):
        marked = fold_dataset(ds, 3, fold, seed=3)
        assert set(np.unique(marked.conditions["split"])) == {"train", "test"}
        tests.append(set(marked.recording_ids[torch.from_numpy(marked.conditions["split"] == "test")].tolist()))
        assert torch.equal(marked.x, ds.x) and torch.equal(marked.y, ds.y)
    assert set().union(*tests) == set(range(12)) and sum(len(t) for t in tests) == 12  # each recording tested once
    assert ds.conditions.keys() == before.keys()  # the study's dataset is not changed
    assert fold_dataset(ds, 3, 1, seed=3).conditions["split"].tolist() == fold_dataset(ds, 3, 1, seed=3).conditions["split"].tolist()
    assert fold_dataset(ds, 3, 1, seed=4).conditions["split"].tolist() != fold_dataset(ds, 3, 1, seed=3).conditions["split"].tolist()

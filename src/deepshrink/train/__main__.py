"""``python -m deepshrink.train ARGS`` = ``deepshrink train ARGS`` (handy with torchrun's ``-m``)::

    torchrun --nproc_per_node=2 -m deepshrink.train --config run.yaml

An entry point of the command line that lives here only because ``-m`` needs the module name
(README and torchrun users rely on it): nothing imports it, and importing ``deepshrink.train``
never loads it, so the train layer does not depend on the CLI. Like ``deepshrink/__main__.py``
it belongs to the ``cli`` layer.
"""

import sys

from deepshrink.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))

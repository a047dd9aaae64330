"""``python -m deepshrink.train ARGS`` = ``deepshrink train ARGS`` (handy with torchrun's ``-m``)::

    torchrun --nproc_per_node=2 -m deepshrink.train --config run.yaml
"""

import sys

from deepshrink.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))

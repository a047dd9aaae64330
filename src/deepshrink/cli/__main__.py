from deepshrink.cli import main

raise SystemExit(main())

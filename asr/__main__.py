"""`python -m asr ...` (and `torchrun -m asr train ...`) run the command-line interface."""

from asr.cli import main

raise SystemExit(main())

"""Options several commands take, declared once as Annotated aliases (each command keeps its
default). Not a command module: gamelake.cli registers only modules without a leading `_`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gamelake.lakefs import located

# A URI (s3a://...) stays as written; pathlib would collapse its `//`.
Lake = Annotated[
    Path, typer.Option("--lake", parser=located, help="Lake folder (default: the profile's).")
]
TopicPrefix = Annotated[str, typer.Option("--topic-prefix", help="Topics <prefix><family>.")]
CheckpointRoot = Annotated[
    Path, typer.Option("--checkpoint-root", parser=located, help="Stages' checkpoints.")
]
NoSilver = Annotated[bool, typer.Option("--no-silver", help="Do not run silver once afterwards.")]

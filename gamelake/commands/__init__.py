"""CLI commands that live beside their feature. Each module defines `register(app)`, which adds
its commands to the `gamelake` Typer app; gamelake.cli discovers the modules here (a module
named _<name> holds what commands share, and is none). Import heavy libraries inside the
command functions, so `gamelake --help` stays fast."""

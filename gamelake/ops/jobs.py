"""Submitting a job of jobs/ from a CLI command: `gamelake submit`, `run`, and the commands
that wrap a job (backfill, reset, maintain, rebuild)."""

from __future__ import annotations

import logging
import os
import subprocess

from gamelake.config import Settings

log = logging.getLogger("gamelake")


def submit_job(settings: Settings, job: str, job_args: list[str]) -> int:
    """Run jobs/<job>.py with spark-submit and the profile's settings; returns its exit code."""
    from gamelake.spark import submit_command, submit_env

    cmd = submit_command(settings, job, job_args)
    log.info("$ %s", " ".join(cmd))
    return subprocess.run(cmd, env=submit_env(dict(os.environ), settings.spark.master)).returncode


def passthrough(**options: object) -> list[str]:
    """Job arguments from CLI options: `--name value` for values (once per item of a list),
    `--name` for true flags; None, false and empty options are left out."""
    args: list[str] = []
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            args.append(flag)
        elif isinstance(value, list | tuple):
            args += [a for item in value for a in (flag, str(item))]
        elif value is not None and value is not False and value != "":
            args += [flag, str(value)]
    return args

"""Submitting a job of jobs/ from a CLI command, the way `gamelake submit` does."""

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
    return subprocess.run(cmd, env=submit_env(dict(os.environ))).returncode


def topic_pattern(settings: Settings, topic_prefix: str | None) -> str:
    """The topics a job reads: conf/pipeline.yaml's pattern, or everything under a prefix
    (the rule jobargs.resolve applies inside the jobs)."""
    import re

    from gamelake.pipeline import load_pipeline_conf

    if topic_prefix:
        return re.escape(topic_prefix) + ".*"
    return load_pipeline_conf(settings.paths.conf).topic_pattern


def passthrough(**options: object) -> list[str]:
    """Job arguments from CLI options: `--name value` for values, `--name` for true flags."""
    args: list[str] = []
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            args.append(flag)
        elif value not in (None, False, ""):
            args += [flag, str(value)]
    return args

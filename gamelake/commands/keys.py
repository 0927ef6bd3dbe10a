"""`gamelake keys`: the collector's write keys (gamelake/keys.py), one per source."""

from __future__ import annotations

import logging

import typer

log = logging.getLogger("gamelake")


def register(app: typer.Typer) -> None:
    keys_app = typer.Typer(
        help="Collector write keys: create (shown once), list, revoke.", no_args_is_help=True
    )
    app.add_typer(keys_app, name="keys")

    @keys_app.command("create")
    def create(
        ctx: typer.Context,
        source: str = typer.Option(..., "--source", help="Who sends with it (a game, a server)."),
    ) -> None:
        """Make a key for a source and print it once; the store keeps only its hash."""
        from gamelake.keys import create_key, key_store_path

        path = key_store_path(ctx.obj.paths.state)
        record, token = create_key(path, source)
        # The key alone on stdout, so `KEY=$(gamelake keys create --source x)` captures it.
        typer.echo(token)
        log.info(
            "key %s for %s stored hashed in %s; it is shown only now: send it as "
            "`Authorization: Bearer <key>`",
            record.key_id, source, path,
        )  # fmt: skip

    @keys_app.command("list")
    def list_(ctx: typer.Context) -> None:
        """Every key's id, source, creation and revocation time (never the key)."""
        from rich.table import Table

        from gamelake.display import make_console
        from gamelake.keys import key_store_path, load_keys

        records = load_keys(key_store_path(ctx.obj.paths.state))
        table = Table(title="collector keys")
        for col in ("id", "source", "created", "revoked"):
            table.add_column(col)
        for r in records:
            table.add_row(r.key_id, r.source, r.created_at, r.revoked_at or "-")
        make_console().print(table)

    @keys_app.command("revoke")
    def revoke(
        ctx: typer.Context,
        key_id: str = typer.Argument(None, help="The key's id (`gamelake keys list`)."),
        source: str = typer.Option(None, "--source", help="Revoke every key of this source."),
    ) -> None:
        """Revoke a key, or every key of a source; a running collector refuses it at once."""
        from gamelake.errors import GamelakeError
        from gamelake.keys import key_store_path, revoke_keys

        revoked = revoke_keys(key_store_path(ctx.obj.paths.state), key_id, source)
        if not revoked:
            raise GamelakeError(
                f"no active key {'of ' + source if source else key_id}",
                fix="see `gamelake keys list`",
            )
        for r in revoked:
            log.info("revoked key %s of %s", r.key_id, r.source)

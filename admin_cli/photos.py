"""`admin-cli photos …` (operators): move the uploaded photos from one photo store to another."""
from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from admin_cli.context import fail, load_config, with_database

if TYPE_CHECKING:
    from bot.photo_migration import MigrationReport
    from bot.storage.database import Database

photos_app = typer.Typer(help="Uploaded invoice photos: move them between stores.", no_args_is_help=True)
PROGRESS_EVERY = 100


@photos_app.command("migrate")
def migrate(
    source: str = typer.Option(..., "--from", help="s3://bucket/prefix, file:///dir or a directory."),
    target: str = typer.Option(..., "--to", help="s3://bucket/prefix, file:///dir or a directory."),
    check_database: bool = typer.Option(True, help="Check that every photo DATABASE_URL references was found."),
) -> None:
    """Copy every photo from --from to --to (the source is kept). Safe to interrupt and run again:
    photos already at the destination are skipped. S3 settings (S3_ENDPOINT_URL, AWS_*) come
    from the environment. Stored photo paths stay the same in every store."""
    from bot.photo_migration import migrate_photos
    from bot.photo_store import LocalPhotoStore, PhotoStoreError, open_store, parse_store_url

    config = load_config()
    for option, url in (("--from", source), ("--to", target)):
        try:
            parse_store_url(url)
        except ValueError as exc:
            raise fail(f"{option}: {exc}") from None
    if source.rstrip("/") == target.rstrip("/"):
        raise fail("--to: the same store as --from")
    stores = [open_store(config.photo_store, config.data_dir, url) for url in (source, target)]
    try:
        if isinstance(stores[0], LocalPhotoStore) and not stores[0].root.is_dir():
            raise fail(f"--from: no such directory {str(stores[0].root)!r}")
        for option, store in zip(("--from", "--to"), stores):
            try:
                store.check()
            except PhotoStoreError as exc:
                raise fail(f"{option}: {exc}") from None

        def progress(report: MigrationReport) -> None:
            if report.done == 0:
                typer.echo(f"{report.total} photos in {stores[0].description} → {stores[1].description}")
            elif report.done % PROGRESS_EVERY == 0 or report.done == report.total:
                typer.echo(f"  {report.done}/{report.total}  copied {report.copied}  "
                           f"already there {report.already_there}  failed {len(report.failed)}")

        report = migrate_photos(stores[0], stores[1], progress)
    finally:
        for store in stores:
            store.close()
    for path, reason in report.failed[:20]:
        typer.echo(f"failed: {path}: {reason}", err=True)
    missing = _referenced() - report.paths if check_database else set()
    for path in sorted(missing)[:20]:
        typer.echo(f"missing: {path} is referenced by an upload but not in --from", err=True)
    typer.echo(f"done: {report.total} photos, copied {report.copied}, already there {report.already_there}, "
               f"failed {len(report.failed)}" + (f", {len(missing)} referenced photos missing" if missing else ""))
    if report.failed or missing:
        raise typer.Exit(1)


def _referenced() -> set[str]:
    from sqlalchemy import select

    from bot.storage.models import Upload

    async def run(db: Database) -> set[str]:
        async with db.session() as session:
            return set(await session.scalars(select(Upload.photo_path).where(Upload.photo_path.is_not(None))))

    return with_database(run)

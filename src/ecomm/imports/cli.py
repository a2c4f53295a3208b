"""`ecomm import transactions`: a user's log through the contract and the one loader; the report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ecomm.console import err, out, user_errors

app = typer.Typer(
    help="Import your own data (a transaction or interaction log) into the warehouse.", no_args_is_help=True
)
DateFormat = Annotated[
    str | None, typer.Option(help="strftime format of the date column, e.g. %d/%m/%Y, or unix (seconds).")
]
Delimiter = Annotated[str, typer.Option(help="The CSV field separator.")]
Encoding = Annotated[str, typer.Option(help="The CSV text encoding, e.g. latin-1.")]


@app.command("transactions")
@user_errors
def transactions(
    file: Annotated[Path, typer.Argument(help="The log: CSV (with a header row) or Parquet.")],
    mapping: Annotated[
        str,
        typer.Option(
            "--map",
            help="field=column pairs (customer_id, date or timestamp, amount; optional quantity, unit_price, "
            "product_id, product_name, category, order_id, country, status, currency), or a YAML file of them.",
        ),
    ],
    date_format: DateFormat = None,
    delimiter: Delimiter = ",",
    encoding: Encoding = "utf-8",
) -> None:
    """Turn a transaction log into raw batches (one per day), validate, quarantine and load them."""
    from ecomm.imports.run import import_transactions
    from ecomm.imports.values import parse_mapping
    from ecomm.settings import get_settings

    report = import_transactions(
        get_settings(),
        file,
        parse_mapping(mapping),
        date_format=date_format,
        delimiter=delimiter,
        encoding=encoding,
    )
    _print(report)


@app.command("interactions")
@user_errors
def interactions(
    file: Annotated[Path, typer.Argument(help="The log: CSV (with a header row) or Parquet.")],
    mapping: Annotated[
        str,
        typer.Option(
            "--map",
            help="field=column pairs (user_id, item_id, date or timestamp, and event or rating), or a YAML file.",
        ),
    ],
    date_format: DateFormat = None,
    delimiter: Delimiter = ",",
    encoding: Encoding = "utf-8",
) -> None:
    """Turn an interaction log (events or 1-5 star ratings) into raw batches, validate and load them."""
    from ecomm.imports import interactions as log
    from ecomm.imports.run import import_interactions
    from ecomm.imports.values import parse_mapping
    from ecomm.settings import get_settings

    report = import_interactions(
        get_settings(),
        file,
        parse_mapping(mapping, log.REQUIRED, log.OPTIONAL),
        date_format=date_format,
        delimiter=delimiter,
        encoding=encoding,
    )
    _print(report)


def _print(report) -> None:
    print_summary(report)
    rejected = report.load.rejected
    for b in rejected:  # the loader's own rule: the dates before it loaded, it and the later ones did not
        err.print(f"[bold red]rejected[/] batch {b.batch_date}: {b.message}", highlight=False)
    for c in report.load.failed_checks:  # as `ecomm load`: a failed quality check fails the command
        err.print(f"[bold red]check failed[/] {c.name} ({c.batch_date}): {c.details}", highlight=False)
    if not report.load.ok:
        raise typer.Exit(1)


def print_summary(report) -> None:
    """The import report: what was read, derived, loaded and quarantined, and the batches."""
    d = report.derived
    table = Table("import of " + report.source.name, "", title_justify="left")
    counts = [
        ("rows read", d.rows_read),
        ("duplicate rows dropped", d.duplicates),
        ("order lines / orders", f"{d.purchase_lines} / {d.orders}" if d.purchase_lines else 0),
        (
            "returns (of them with no earlier purchase)",
            f"{d.returns} ({d.returns_unmatched})" if d.returns else 0,
        ),
        ("web events", d.events),
        ("ratings", d.ratings),
        ("customers / products", f"{d.customers} / {d.products}"),
        ("lines with a rounding discount (< 1 cent a unit)", d.rounding_discounts),
        ("date span", f"{d.first_day} … {d.last_day}"),
    ]
    rows = [
        (label, value) for label, value in counts if value or label in ("rows read", "duplicate rows dropped")
    ]
    rows += [("loaded now: " + name, n) for name, n in sorted(report.imported.items())]
    rows += [("quarantined: " + reason, n) for reason, n in report.quarantined.items()]
    rows += [("derived", note) for note in d.notes]
    for label, value in rows:
        table.add_row(label, str(value))
    out.print(table)
    skipped = sum(b.status == "skipped" for b in report.load.batches)
    rejected = report.load.rejected
    out.print(
        f"batches in {report.batches_dir}: {len(report.load.batches)} ({skipped} already loaded, "
        f"{len(rejected)} rejected); no ground truth exists for imported data",
        highlight=False,
    )

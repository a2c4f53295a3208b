"""`make up`'s and `make status`'s services: every URL printed whole, in an 80-column terminal too."""

from __future__ import annotations

import pytest
from rich.console import Console

from ecomm.platform.services import planned_services, print_services
from ecomm.settings import Settings


def _printed(width: int, tmp_path, **settings) -> tuple[list[str], list]:
    config = Settings(
        _env_file=None,
        home=tmp_path,
        database_url="postgresql://nobody@127.0.0.1:1/x",  # building the list connects to nothing
        api_keys=["key"],
        **settings,
    )
    services = planned_services(config)
    console = Console(width=width, record=True, color_system=None)
    print_services(console, "services", [(service, "[yellow]starting[/]") for service in services])
    return console.export_text().splitlines(), services


@pytest.mark.parametrize("width", [80, 100, 200])
def test_the_default_urls_are_whole_in_a_table(width, tmp_path):
    lines, services = _printed(width, tmp_path)
    assert lines[1].startswith("┏")  # a table
    assert all(len(line) <= width for line in lines)
    for service in services:
        row = next(line for line in lines if f"│ {service.name} " in line)
        assert f" {service.url or '(background)'} " in row
        if service.credentials:
            assert service.credentials in lines[lines.index(row) + 1]  # under its URL
        assert "starting" in row


def test_a_url_too_long_for_the_table_is_printed_whole_on_its_line(tmp_path):
    lines, services = _printed(80, tmp_path, jupyter_token="t" * 60)
    jupyter = next(service for service in services if service.name == "jupyterlab")
    assert len(jupyter.url) > 80 - 30  # wider than the table can give it
    assert not any(line.startswith("┏") for line in lines)
    text = "".join(lines)  # the terminal wraps a long line; the URL is one run of characters in it
    for service in services:
        assert f"{service.name}  starting  {service.url or '(background)'}" in text
    assert "…" not in text


def test_imported_data_starts_no_live_shop(tmp_path):
    _, shop = _printed(200, tmp_path)
    _, imported = _printed(200, tmp_path, source="imported")
    assert "stream" in [s.name for s in shop]
    assert [s.name for s in imported] == [s.name for s in shop if s.name != "stream"]

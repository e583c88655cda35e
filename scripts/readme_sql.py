"""The README's SQL, read from the README itself, so what is run is what it says."""

from __future__ import annotations

from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_statement(comment: str) -> str:
    """The SQL statement that follows the README line starting with ``-- {comment}``."""
    lines = README.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith(f"-- {comment}"))
    statement: list[str] = []
    for line in lines[start + 1 :]:
        statement.append(line.strip())
        if line.rstrip().endswith(";"):
            break
    return "\n".join(statement).rstrip(";")


def deletion_sql(target: str, module: str) -> str:
    """The README's ``-- remove, target-<target>`` statement, for ``module`` instead of Leads.

    ``target`` is ``duckdb`` or ``postgres``.
    """
    return (
        readme_statement(f"remove, target-{target}")
        .replace("zoho.leads ", f"zoho.{module.lower()} ")
        .replace('zoho."Leads"', f'zoho."{module}"')
        .replace("'Leads'", f"'{module}'")
    )


def full_table_sql(module: str) -> str:
    """The README's statement keeping a full-table table's last export (target-duckdb)."""
    return (
        readme_statement("keep the rows of the last complete export")
        .replace("zoho.quoted_items", f"zoho.{module.lower()}")
        .replace("'Quoted_Items'", f"'{module}'")
    )

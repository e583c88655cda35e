"""The README's deletion SQL, read from the README itself, so what is run is what it says."""

from __future__ import annotations

from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def deletion_sql(target: str, module: str) -> str:
    """The README's ``-- remove, target-<target>`` statement, for ``module`` instead of Leads.

    ``target`` is ``duckdb`` or ``postgres``.
    """
    lines = README.read_text(encoding="utf-8").splitlines()
    start = next(
        i for i, line in enumerate(lines) if line.startswith(f"-- remove, target-{target}")
    )
    statement: list[str] = []
    for line in lines[start + 1 :]:
        statement.append(line)
        if line.rstrip().endswith(";"):
            break
    sql = "\n".join(statement).rstrip().rstrip(";")
    return (
        sql.replace("zoho.leads ", f"zoho.{module.lower()} ")
        .replace('zoho."Leads"', f'zoho."{module}"')
        .replace("'Leads'", f"'{module}'")
    )

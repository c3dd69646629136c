"""The cost of the wake-up trigger on PostgreSQL: migration 0004 (each finish counts
down its parents' running children) against 0003 (each finish read all the other
children of its parents), in the same run.

Two schemas, built by the migrations up to 0003 and up to 0004, and two measures on
each, the schemas taking turns; each figure is the median of the repeats:

- lifecycles: create, set_metadata, done as the SQL lro sends (raw psycopg, as in
  ``bench.lifecycle_postgres``); each done fires the trigger with no parent waiting;
- children of one parent finished one by one: each finish changes the parent's wait.

Commits do not wait for the disk here (``synchronous_commit = off`` in the scratch
database), so that the figures are the statements' work, which the trigger changes,
rather than the fsyncs, which it does not, and which vary most on a shared machine.

    .venv/bin/python -m bench.wake_parents_postgres [--rounds N] [--children N] [--repeats R]

The server is ``$LRO_BENCH_POSTGRES_DSN`` (default: the local one, user postgres).
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid

import psycopg
from psycopg import sql

from bench._postgres import scratch_database
from bench.lifecycle_postgres import raw_lifecycles
from lro._store.queries import load_migrations

BEFORE, AFTER = 3, 4  # the migrations compared
NEVER_US = 2**62


def migrated_schema(database_url: str, last_migration: int) -> str:
    """A new schema with the migrations up to ``last_migration`` applied; its name."""
    schema = f"m{last_migration}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        connection.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        for number, _, text in load_migrations("postgresql"):
            if number <= last_migration:
                connection.execute(text.encode())
    return schema


def without_waiting_for_the_disk(database_url: str) -> None:
    """Make the sessions of this database commit without waiting for the disk."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        found = connection.execute("SELECT current_database()").fetchone()
        name = sql.Identifier(str(found[0] if found else ""))
        connection.execute(sql.SQL("ALTER DATABASE {} SET synchronous_commit = off").format(name))


def finish_children(database_url: str, schema: str, count: int) -> float:
    """Seconds to finish, one by one, the ``count`` children of one waiting parent."""
    options = f"-c search_path={schema}"
    with psycopg.connect(database_url, autocommit=True, options=options) as connection:
        parent = f"operations/{uuid.uuid4()}"
        children = [f"operations/{uuid.uuid4()}" for _ in range(count)]
        connection.execute(
            "INSERT INTO lro_operations (name, operation, create_time_us, update_time_us, "
            "version) SELECT unnest(%s::TEXT[]), ''::BYTEA, 0, 0, 1",
            ([parent, *children],),
        )
        connection.execute(
            "INSERT INTO lro_wakeups (name, due_time_us, ready_time_us, deadline_us, "
            "poll_frequency_us, target_kind, schedule_time_us) "
            "VALUES (%s, %s, 0, %s, 0, 'handler', 0)",
            (parent, NEVER_US, NEVER_US),
        )
        if schema.startswith(f"m{AFTER}_"):
            connection.execute(
                "UPDATE lro_wakeups SET running_children = %s WHERE name = %s", (count, parent)
            )
        connection.execute(
            "INSERT INTO lro_wakeup_children (child, parent) SELECT unnest(%s::TEXT[]), %s",
            (children, parent),
        )
        started = time.perf_counter()
        for child in children:
            connection.execute("UPDATE lro_operations SET done = TRUE WHERE name = %s", (child,))
        elapsed = time.perf_counter() - started
        woken = connection.execute(
            "SELECT due_time_us FROM lro_wakeups WHERE name = %s", (parent,)
        ).fetchone()
    if woken is None or woken[0] != 0:
        raise RuntimeError(f"the parent in {schema} was not woken by its last child")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=500, help="lifecycles per run")
    parser.add_argument("--children", type=int, default=200, help="children of the parent")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    runs: dict[tuple[str, int], list[float]] = {}
    with scratch_database() as database:
        without_waiting_for_the_disk(database)
        for _ in range(args.repeats):  # the schemas take turns, so load drifts hit each alike
            for migration in (BEFORE, AFTER):
                schema = migrated_schema(database, migration)
                lifecycles = raw_lifecycles(f"{database}?schema={schema}", args.rounds)
                runs.setdefault(("lifecycles", migration), []).append(args.rounds / lifecycles)
                finishes = finish_children(database, schema, args.children)
                runs.setdefault(("finishes", migration), []).append(args.children / finishes)
    print(f"| per second | {BEFORE:04d} | {AFTER:04d} | ratio {AFTER:04d}/{BEFORE:04d} |")
    print("|---|---|---|---|")
    labels = {
        "lifecycles": f"lifecycles, raw SQL ({args.rounds} a run)",
        "finishes": f"finishes of the {args.children} children of one parent",
    }
    for measure, label in labels.items():
        before, after = (statistics.median(runs[measure, m]) for m in (BEFORE, AFTER))
        print(f"| {label} | {before:,.0f} | {after:,.0f} | {after / before:.2f} |")


if __name__ == "__main__":
    main()

"""The demo's shop dataset, loaded into a real PostgreSQL."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg import errors

from proctor.demo.pgcluster import PgCluster
from proctor.demo.seed import (
    SeedSummary,
    create_app_role,
    create_database,
    luhn_check_digit,
    luhn_valid,
    seed_shop,
)

pytestmark = pytest.mark.integration

APP_ROLE = "shop_app"
APP_PASSWORD = "it's a s3cret \\ with quotes"  # exercises literal quoting in ALTER ROLE


@dataclass(frozen=True)
class Shop:
    cluster: PgCluster
    summary: SeedSummary

    def admin(self, dbname: str = "shop") -> psycopg.Connection[Any]:
        return psycopg.connect(self.cluster.dsn(dbname))


@pytest.fixture(scope="module")
def shop(seed_pg: PgCluster) -> Iterator[Shop]:
    create_database(seed_pg.dsn(), "shop")
    summary = seed_shop(seed_pg.dsn("shop"))
    create_app_role(seed_pg.dsn(), APP_ROLE, APP_PASSWORD, "shop")
    yield Shop(seed_pg, summary)


def rows(
    conn: psycopg.Connection[Any], query: str, params: tuple[Any, ...] | None = None
) -> list[tuple[Any, ...]]:
    return conn.execute(query, params).fetchall()


def app_dsn(cluster: PgCluster, dbname: str, user: str) -> str:
    """Without a password: the test passes the role's own."""
    return f"host={cluster.host} port={cluster.port} dbname={dbname} user={user}"


def luhn_ok(number: str) -> bool:
    """An independent Luhn check (not the module's), on the digits only."""
    digits = [int(c) for c in number if c.isdigit()]
    checksum = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        checksum += d
    return checksum % 10 == 0


def test_counts(shop: Shop) -> None:
    s = shop.summary
    assert s == SeedSummary(customers=10_000, payments=20_000, orders=25_000)
    assert s.total == 55_000
    with shop.admin() as conn:
        for table, expected in (
            ("customers", s.customers),
            ("payments", s.payments),
            ("orders", s.orders),
        ):
            assert rows(conn, f"SELECT count(*) FROM {table}") == [(expected,)]
            assert expected >= 10_000


def test_card_numbers_pass_luhn_and_match_brand(shop: Shop) -> None:
    with shop.admin() as conn:
        cards = rows(conn, "SELECT card_number, card_brand, card_expiry FROM payments")
    assert cards
    brands: dict[str, int] = {}
    styles = {"plain": 0, "spaces": 0, "dashes": 0}
    two_series = 0
    for number, brand, expiry in cards:
        assert re.fullmatch(r"[0-9]+|[0-9]+( [0-9]+)+|[0-9]+(-[0-9]+)+", number), number
        assert luhn_ok(number), number
        assert luhn_valid(number), number
        digits = re.sub(r"[ -]", "", number)
        styles["spaces" if " " in number else "dashes" if "-" in number else "plain"] += 1
        brands[brand] = brands.get(brand, 0) + 1
        if brand == "visa":
            assert digits.startswith("4") and len(digits) == 16
        elif brand == "mastercard":
            assert len(digits) == 16
            assert 51 <= int(digits[:2]) <= 55 or 2221 <= int(digits[:4]) <= 2720, digits
            two_series += digits.startswith("2")
        elif brand == "amex":
            assert digits[:2] in ("34", "37") and len(digits) == 15
        elif brand == "discover":
            assert len(digits) == 16
            assert digits.startswith(("6011", "65")) or 644 <= int(digits[:3]) <= 649, digits
        else:
            pytest.fail(f"unexpected brand {brand!r}")
        assert re.fullmatch(r"(0[1-9]|1[0-2])/[0-9]{2}", expiry), expiry
    assert set(brands) == {"visa", "mastercard", "amex", "discover"}
    assert two_series > 0
    assert all(n > 100 for n in styles.values()), styles


def test_luhn_helpers() -> None:
    assert luhn_check_digit("7992739871") == "3"
    assert luhn_valid("79927398713")
    assert luhn_valid("4111 1111 1111 1111")
    assert not luhn_valid("4111 1111 1111 1112")
    assert not luhn_valid("4111-abcd")
    assert not luhn_valid("")


def test_ssns_are_syntactically_valid(shop: Shop) -> None:
    with shop.admin() as conn:
        ssns = [r[0] for r in rows(conn, "SELECT ssn FROM customers")]
    assert len(ssns) == shop.summary.customers
    for ssn in ssns:
        m = re.fullmatch(r"([0-9]{3})-([0-9]{2})-([0-9]{4})", ssn)
        assert m, ssn
        area, group, serial = m.groups()
        assert area not in ("000", "666") and not area.startswith("9"), ssn
        assert group != "00" and serial != "0000", ssn


def test_emails_unique_and_plausible(shop: Shop) -> None:
    with shop.admin() as conn:
        assert rows(conn, "SELECT count(*) = count(DISTINCT email) FROM customers") == [(True,)]
        emails = [r[0] for r in rows(conn, "SELECT email FROM customers")]
        with pytest.raises(errors.UniqueViolation), conn.transaction():
            conn.execute(
                "INSERT INTO customers (first_name, last_name, email) VALUES ('a', 'b', %s)",
                (emails[0],),
            )
    for email in emails:
        assert re.fullmatch(r"[a-z0-9._]+@[a-z0-9.-]+\.[a-z]{2,}", email), email


def test_orders_are_consistent(shop: Shop) -> None:
    with shop.admin() as conn:
        # Paid orders charge the order's own customer the order's total.
        assert rows(
            conn,
            "SELECT count(*) FROM orders o JOIN payments p ON p.id = o.payment_id "
            "WHERE p.customer_id <> o.customer_id OR p.amount <> o.total",
        ) == [(0,)]
        sample = rows(conn, "SELECT total, items FROM orders ORDER BY id LIMIT 500")
        statuses = {r[0] for r in rows(conn, "SELECT DISTINCT status FROM payments")}
        notes = [r[0] for r in rows(conn, "SELECT notes FROM orders WHERE notes IS NOT NULL")]
        unpaid = rows(conn, "SELECT count(*) FROM orders WHERE payment_id IS NULL")[0][0]
        # New rows get ids after the loaded ones (the identity was restarted past them).
        new_id = rows(
            conn,
            "INSERT INTO customers (first_name, last_name, email) "
            "VALUES ('New', 'Customer', 'new.customer@example.com') RETURNING id",
        )[0][0]
        conn.rollback()
    assert new_id > shop.summary.customers  # sequences are not rolled back: ">"
    assert statuses == {"captured", "refunded", "failed", "pending"}
    assert unpaid > 0
    for total, items in sample:
        assert items and all(set(it) == {"sku", "qty", "price"} for it in items)
        assert total == sum(Decimal(str(it["price"])) * it["qty"] for it in items)
    with_email = [n for n in notes if re.search(r"\S+@\S+\.\w+", n)]
    with_phone = [n for n in notes if re.search(r"\(?\d{3}\)?[ .-]?\d{3}[ .-]?\d{4}", n)]
    assert len(with_email) > 100 and len(with_phone) > 100
    assert len(notes) - len(with_email) - len(with_phone) > 1000  # most notes are plain


def test_indexes_added_and_analyzed(shop: Shop) -> None:
    with shop.admin() as conn:
        indexes = {
            r[0] for r in rows(conn, "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")
        }
        analyzed = rows(
            conn,
            "SELECT count(*) FROM pg_stat_user_tables "
            "WHERE relname IN ('customers', 'payments', 'orders') AND last_analyze IS NOT NULL",
        )
    assert {
        "customers_pkey",
        "customers_email_key",
        "payments_pkey",
        "orders_pkey",
        "orders_customer_id_idx",
        "payments_customer_id_idx",
    } <= indexes
    assert analyzed == [(3,)]


def snapshot(dsn: str, limit: int = 50) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(dsn) as conn:
        return {
            table: rows(conn, f"SELECT * FROM {table} ORDER BY id LIMIT {limit}")
            for table in ("customers", "payments", "orders")
        }


def test_same_seed_same_rows(seed_pg: PgCluster) -> None:
    small = {"customers": 300, "orders": 700, "payments": 500}
    for db in ("det_a", "det_b", "det_c"):
        create_database(seed_pg.dsn(), db)
    seed_shop(seed_pg.dsn("det_a"), seed=7, **small)
    seed_shop(seed_pg.dsn("det_b"), seed=7, **small)
    seed_shop(seed_pg.dsn("det_c"), seed=8, **small)
    a, b, c = (snapshot(seed_pg.dsn(db), limit=1000) for db in ("det_a", "det_b", "det_c"))
    assert a == b
    assert len(a["orders"]) == 700
    assert a["customers"][:10] != c["customers"][:10]
    assert a["payments"][:10] != c["payments"][:10]


def test_default_seed_is_stable(shop: Shop) -> None:
    """The first customers of the default seed do not change between runs (or by the date)."""
    first = snapshot(shop.cluster.dsn("shop"), limit=3)["customers"]
    create_database(shop.cluster.dsn(), "shop_again")
    seed_shop(shop.cluster.dsn("shop_again"))
    assert snapshot(shop.cluster.dsn("shop_again"), limit=3)["customers"] == first
    assert all(json.dumps(r, default=str) for r in first)


def test_app_role_can_read_and_write_but_is_not_superuser(shop: Shop) -> None:
    with psycopg.connect(app_dsn(shop.cluster, "shop", APP_ROLE), password=APP_PASSWORD) as conn:
        assert rows(conn, "SELECT count(*) FROM customers") == [(shop.summary.customers,)]
        assert rows(conn, "SELECT current_setting('is_superuser')") == [("off",)]
        updated = conn.execute(
            "UPDATE customers SET phone = '555-0100' WHERE id = 1 RETURNING phone"
        ).fetchall()
        assert updated == [("555-0100",)]
        conn.rollback()
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("SELECT rolpassword FROM pg_authid")
        conn.rollback()
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("CREATE ROLE intruder")
    with shop.admin() as conn:
        attrs = rows(
            conn,
            "SELECT rolsuper, rolcreaterole, rolcreatedb, rolcanlogin, "
            "left(rolpassword, 14) FROM pg_authid WHERE rolname = %s",
            (APP_ROLE,),
        )
    assert attrs == [(False, False, False, True, "SCRAM-SHA-256$")]


def test_app_role_password_update(seed_pg: PgCluster, shop: Shop) -> None:
    create_app_role(seed_pg.dsn(), "rotating", "first-password", "shop")
    create_app_role(seed_pg.dsn(), "rotating", "second-password", "shop")
    base = app_dsn(seed_pg, "shop", "rotating")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(base, password="first-password").close()
    with psycopg.connect(base, password="second-password") as conn:
        assert rows(conn, "SELECT count(*) > 0 FROM orders") == [(True,)]


def test_reseed_is_idempotent(seed_pg: PgCluster) -> None:
    assert create_database(seed_pg.dsn(), "idem") is True
    assert create_database(seed_pg.dsn(), "idem") is False
    small = {"customers": 200, "orders": 400, "payments": 300}
    first = seed_shop(seed_pg.dsn("idem"), **small)
    create_app_role(seed_pg.dsn(), "idem_app", "pw-idem", "idem")
    before = snapshot(seed_pg.dsn("idem"), limit=10_000)
    second = seed_shop(seed_pg.dsn("idem"), **small)
    assert first == second == SeedSummary(customers=200, payments=300, orders=400)
    assert snapshot(seed_pg.dsn("idem"), limit=10_000) == before
    # The re-created tables are still readable by the app role (default privileges).
    with psycopg.connect(app_dsn(seed_pg, "idem", "idem_app"), password="pw-idem") as conn:
        assert rows(conn, "SELECT count(*) FROM payments") == [(300,)]
        conn.execute("UPDATE orders SET notes = 'x' WHERE id = 1")
        conn.rollback()


def test_rejects_bad_counts(seed_pg: PgCluster) -> None:
    with pytest.raises(ValueError, match="customer"):
        seed_shop(seed_pg.dsn(), customers=0)

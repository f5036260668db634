-- Schema changes: CREATE, ALTER, DROP, TRUNCATE, GRANT/REVOKE, rules, triggers, functions.
-- Format: docs/sql-analysis.md ("Corpus format").

--- case: create-table
--- expect: operation=create effects=create writes=app.invoices reads=- complete=true
CREATE TABLE app.invoices (id bigint PRIMARY KEY, total numeric NOT NULL);

--- case: create-table-default-and-check-functions
--- expect: operation=create effects=create writes=t functions=now,gen_random_uuid,length complete=true
CREATE TABLE t (
  id uuid DEFAULT gen_random_uuid(),
  at timestamptz DEFAULT now(),
  name text CHECK (length(name) > 0)
);

--- case: create-table-like-references-inherits
--- expect: operation=create effects=create writes=child,parent reads=template,customers complete=true
CREATE TABLE child (LIKE template, cid int REFERENCES customers (id)) INHERITS (parent);

--- case: create-partition-of
--- expect: operation=create effects=create writes=measurements_2024,measurements complete=true
CREATE TABLE measurements_2024 PARTITION OF measurements
  FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');

--- case: create-table-as
--- expect: operation=create effects=create,select writes=snapshot reads=orders complete=true
CREATE TABLE snapshot AS SELECT * FROM orders;

--- case: create-materialized-view
--- expect: operation=create effects=create,select writes=mv reads=orders complete=true
CREATE MATERIALIZED VIEW mv AS SELECT customer_id, sum(total) FROM orders GROUP BY 1;

--- case: create-view
--- expect: operation=create effects=create,select writes=v reads=customers complete=true
CREATE OR REPLACE VIEW v AS SELECT id FROM customers;

--- case: create-index
--- expect: operation=create effects=create writes=customers functions=lower complete=true
CREATE INDEX CONCURRENTLY customers_lower_name ON customers (lower(name));

--- case: create-sequence-and-alter
--- expect: operation=create effects=create,alter writes=s1 complete=true count=2
CREATE SEQUENCE s1; ALTER SEQUENCE s1 RESTART;

--- case: create-schema-with-elements
--- expect: operation=create effects=create,select writes=shop.items,shop.v reads=items complete=true
CREATE SCHEMA shop
  CREATE TABLE items (id int)
  CREATE VIEW v AS SELECT * FROM items;

--- case: create-type-is-not-a-table
--- expect: operation=create effects=create writes=- reads=- complete=true
CREATE TYPE pair AS (a int, b int);

--- case: create-role
--- expect: operation=create effects=create writes=- complete=true
CREATE ROLE analyst NOLOGIN;

--- case: create-extension
--- expect: operation=create effects=create complete=true
CREATE EXTENSION IF NOT EXISTS pgcrypto;

--- case: alter-table-add-column
--- expect: operation=alter effects=alter writes=customers functions=pg_read_file complete=true
ALTER TABLE customers ADD COLUMN motd text DEFAULT pg_read_file('/etc/motd');

--- case: alter-table-rename-writes-both-names
--- expect: operation=alter effects=alter writes=staging,customers complete=true
ALTER TABLE staging RENAME TO customers;

--- case: alter-table-set-schema
--- expect: operation=alter effects=alter writes=old.t,new.t complete=true
ALTER TABLE old.t SET SCHEMA new;

--- case: alter-table-attach-partition
--- expect: operation=alter effects=alter writes=p,p_2024 complete=true
ALTER TABLE p ATTACH PARTITION p_2024 FOR VALUES IN (2024);

--- case: alter-table-inherit
--- expect: operation=alter effects=alter writes=c,p complete=true
ALTER TABLE c INHERIT p;

--- case: alter-role
--- expect: operation=alter effects=alter writes=- complete=true
ALTER ROLE analyst WITH LOGIN CONNECTION LIMIT 3;

--- case: alter-role-set
--- expect: operation=alter effects=alter settings=role:search_path features=- complete=true
ALTER ROLE analyst SET search_path = reporting, public;

--- case: alter-database-set
--- expect: operation=alter effects=alter settings=database:work_mem complete=true
ALTER DATABASE shop SET work_mem = '64MB';

--- case: comment-on-table
--- expect: operation=alter effects=alter writes=s.t complete=true
COMMENT ON TABLE s.t IS 'the t table';

--- case: comment-on-column
--- expect: operation=alter effects=alter writes=t complete=true
COMMENT ON COLUMN t.c IS 'a column';

--- case: drop-tables
--- expect: operation=drop effects=drop writes=a,s.b complete=true
DROP TABLE IF EXISTS a, s.b CASCADE;

--- case: drop-trigger-alters-its-table
--- expect: operation=drop effects=drop writes=s.t complete=true
DROP TRIGGER audit ON s.t;

--- case: drop-index-and-view
--- expect: operation=drop effects=drop writes=i,v,mv complete=true count=3
DROP INDEX i; DROP VIEW v; DROP MATERIALIZED VIEW mv;

--- case: drop-function-is-not-a-relation
--- expect: operation=drop effects=drop writes=- complete=true
DROP FUNCTION f(int);

--- case: drop-schema-and-database
--- expect: operation=drop effects=drop writes=- complete=true count=2
DROP SCHEMA app CASCADE; DROP DATABASE old;

--- case: truncate
--- expect: operation=truncate effects=truncate writes=a,b unfiltered=- complete=true
TRUNCATE a, b RESTART IDENTITY;

--- case: truncate-table-only
--- expect: operation=truncate effects=truncate writes=public.customers complete=true
TRUNCATE TABLE ONLY public.customers;

--- case: grant-on-tables
--- expect: operation=grant effects=grant writes=customers,s.orders complete=true
GRANT SELECT, UPDATE ON customers, s.orders TO analyst;

--- case: grant-on-schema-tables-has-no-relation
--- expect: operation=grant effects=grant writes=- complete=true
GRANT SELECT ON ALL TABLES IN SCHEMA public TO analyst;

--- case: revoke
--- expect: operation=revoke effects=revoke writes=customers complete=true
REVOKE ALL ON customers FROM PUBLIC;

--- case: grant-role
--- expect: operation=grant effects=grant complete=true
GRANT admin TO alice;

--- case: revoke-role
--- expect: operation=revoke effects=revoke complete=true
REVOKE admin FROM alice;

--- case: alter-default-privileges-revoke
--- expect: operation=revoke effects=revoke complete=true
ALTER DEFAULT PRIVILEGES IN SCHEMA app REVOKE SELECT ON TABLES FROM PUBLIC;

--- case: create-policy
--- expect: operation=create effects=create writes=accounts functions=current_user_id complete=true
CREATE POLICY own ON accounts USING (owner = current_user_id());

--- case: create-trigger
--- expect: operation=create effects=create writes=orders functions=audit.log_change complete=true
CREATE TRIGGER t_audit AFTER UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION audit.log_change();

--- case: create-function-sql-body-analyzed
--- expect: operation=create effects=create,select reads=orders writes=- complete=true
CREATE FUNCTION total(int) RETURNS numeric LANGUAGE sql
AS $$ SELECT sum(total) FROM orders WHERE customer_id = $1 $$;

--- case: create-function-plpgsql-incomplete
--- expect: operation=create effects=create complete=false
--- note: LANGUAGE plpgsql function is not analyzed
CREATE FUNCTION bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.updated := now(); RETURN NEW; END
$$;

--- case: create-function-set-clause
--- expect: operation=create effects=create,select settings=function:search_path features=- complete=true
CREATE FUNCTION f() RETURNS int LANGUAGE sql SET search_path = pg_catalog AS 'SELECT 1';

--- case: refresh-materialized-view
--- expect: operation=utility effects=utility writes=mv complete=true
REFRESH MATERIALIZED VIEW CONCURRENTLY mv;

--- case: reindex-cluster-vacuum
--- expect: operation=utility effects=utility writes=t,u,v complete=true count=3
REINDEX TABLE t; CLUSTER u USING u_pkey; VACUUM (ANALYZE) v;

-- Settings, transactions, COPY, EXPLAIN, PREPARE/EXECUTE, CALL, DO, session utilities,
-- empty and unparseable input. Format: docs/sql-analysis.md ("Corpus format").

--- case: set-guc
--- expect: operation=set effects=set settings=work_mem features=- complete=true
SET work_mem = '256MB';

--- case: set-local-search-path
--- expect: operation=set effects=set settings=search_path features=set_search_path complete=true
SET LOCAL search_path TO app, public;

--- case: set-role
--- expect: operation=set effects=set settings=role features=set_role complete=true
SET ROLE admin;

--- case: reset-role
--- expect: operation=set effects=set settings=role features=set_role complete=true
RESET ROLE;

--- case: set-session-authorization
--- expect: operation=set effects=set settings=session_authorization
--- expect: features=set_session_authorization complete=true
SET SESSION AUTHORIZATION postgres;

--- case: reset-all
--- expect: operation=set effects=set settings=all features=- complete=true
RESET ALL;

--- case: set-transaction-isolation
--- expect: operation=set effects=set settings=transaction_isolation complete=true
SET TRANSACTION ISOLATION LEVEL SERIALIZABLE;

--- case: set-constraints
--- expect: operation=set effects=set settings=constraints complete=true
SET CONSTRAINTS ALL DEFERRED;

--- case: alter-system
--- expect: operation=set effects=set,alter settings=system:shared_preload_libraries
--- expect: features=alter_system complete=true
ALTER SYSTEM SET shared_preload_libraries = 'evil';

--- case: alter-system-reset-all
--- expect: operation=set effects=set,alter settings=system:all features=alter_system complete=true
ALTER SYSTEM RESET ALL;

--- case: transaction-control
--- expect: operation=transaction effects=transaction,insert writes=t complete=true count=5
BEGIN ISOLATION LEVEL REPEATABLE READ;
SAVEPOINT a;
INSERT INTO t VALUES (1);
ROLLBACK TO SAVEPOINT a;
COMMIT;

--- case: two-phase
--- expect: operation=transaction effects=transaction complete=true count=2
PREPARE TRANSACTION 'tx1'; COMMIT PREPARED 'tx1';

--- case: copy-from-stdin
--- expect: operation=copy effects=copy writes=customers reads=- features=- complete=true
COPY customers (id, name) FROM STDIN WITH (FORMAT csv);

--- case: copy-to-stdout
--- expect: operation=copy effects=copy reads=customers writes=- features=- complete=true
COPY customers TO STDOUT;

--- case: copy-query-to-stdout
--- expect: operation=copy effects=copy,select reads=orders writes=- complete=true
COPY (SELECT * FROM orders WHERE total > 100) TO STDOUT WITH CSV HEADER;

--- case: copy-dml-returning-to-stdout
--- expect: operation=copy effects=copy,delete writes=orders unfiltered=delete complete=true
COPY (DELETE FROM orders RETURNING *) TO STDOUT;

--- case: copy-from-program
--- expect: operation=copy effects=copy writes=t features=copy_program complete=true
--- note: PROGRAM runs a shell command
COPY t FROM PROGRAM 'curl -s http://example.invalid/x';

--- case: copy-to-program
--- expect: operation=copy effects=copy reads=t features=copy_program complete=true
COPY t TO PROGRAM 'gzip > /tmp/t.gz';

--- case: copy-from-server-file
--- expect: operation=copy effects=copy writes=t features=copy_server_file complete=true
COPY t FROM '/etc/passwd';

--- case: copy-to-server-file
--- expect: operation=copy effects=copy reads=t features=copy_server_file complete=true
COPY t TO '/tmp/t.csv' (FORMAT csv);

--- case: explain-select
--- expect: operation=explain effects=explain reads=customers writes=- complete=true
EXPLAIN SELECT * FROM customers;

--- case: explain-delete-does-not-run-it
--- expect: operation=explain effects=explain reads=customers writes=- unfiltered=- complete=true
EXPLAIN DELETE FROM customers;

--- case: explain-analyze-delete-runs-it
--- expect: operation=explain effects=explain,delete writes=customers unfiltered=delete complete=true
EXPLAIN ANALYZE DELETE FROM customers;

--- case: explain-analyze-option-list
--- expect: operation=explain effects=explain,update writes=t unfiltered=update complete=true
EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) UPDATE t SET a = 1;

--- case: explain-analyze-off
--- expect: operation=explain effects=explain writes=- reads=t complete=true
EXPLAIN (ANALYZE off, COSTS false) UPDATE t SET a = 1;

--- case: explain-analyze-true-string
--- expect: operation=explain effects=explain,delete writes=t complete=true
EXPLAIN (ANALYZE 'true') DELETE FROM t WHERE id = 1;

--- case: prepare-delete
--- expect: operation=prepare effects=prepare,delete writes=customers unfiltered=- complete=true
PREPARE del(int) AS DELETE FROM customers WHERE id = $1;

--- case: execute-unknown
--- expect: operation=execute effects=execute complete=false
--- note: definition was not seen
EXECUTE del(1);

--- case: execute-known-from-gateway
--- prepared del: PREPARE del(int) AS DELETE FROM customers WHERE id = $1
--- expect: operation=execute effects=execute,delete writes=customers complete=true
EXECUTE del(7);

--- case: prepare-then-execute-in-one-batch
--- expect: operation=prepare effects=prepare,execute,update writes=t unfiltered=update complete=true
PREPARE up AS UPDATE t SET x = 0; EXECUTE up;

--- case: execute-after-deallocate
--- prepared p: PREPARE p AS SELECT 1
--- expect: operation=utility effects=utility,execute complete=false count=2
DEALLOCATE p; EXECUTE p;

--- case: explain-analyze-execute
--- prepared p: PREPARE p AS DELETE FROM t
--- expect: operation=explain effects=explain,execute,delete writes=t unfiltered=delete complete=true
EXPLAIN ANALYZE EXECUTE p;

--- case: call-procedure
--- expect: operation=call effects=call functions=archive_old,now complete=true
CALL archive_old(now());

--- case: do-block
--- expect: operation=do effects=do complete=false
--- note: DO block
DO $$ BEGIN PERFORM 1; END $$;

--- case: session-utilities
--- expect: operation=utility effects=utility complete=true count=8
SHOW work_mem; LISTEN ch; NOTIFY ch, 'x'; UNLISTEN *; DISCARD ALL; CHECKPOINT;
CLOSE ALL; DEALLOCATE ALL;

--- case: declare-cursor-fetch
--- expect: operation=utility effects=utility,select reads=big complete=true count=2
DECLARE c CURSOR WITH HOLD FOR SELECT * FROM big; FETCH 10 FROM c;

--- case: lock-table
--- expect: operation=utility effects=utility writes=accounts complete=true
LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE;

--- case: load-library
--- expect: operation=utility effects=utility features=load_library complete=true
LOAD 'auto_explain';

--- case: empty
--- expect: operation=utility effects=- complete=true count=0

--- case: only-comments
--- expect: operation=utility effects=- complete=true count=0
-- nothing here
/* nor here */

--- case: syntax-error
--- expect: operation=unknown effects=unknown complete=false
--- note: syntax error at or near "FORM"
SELECT * FORM customers;

--- case: syntax-error-after-valid-statement
--- expect: operation=unknown effects=unknown complete=false
SELECT 1; DELETE FROM;

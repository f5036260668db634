-- MySQL dialect cases for proctor.sql.analyze_mysql (tests/unit/sql/test_mysql.py).
-- Format: docs/sql-analysis.md ("Corpus format"). Names are lower-cased (see "MySQL").

--- case: select-simple
--- expect: operation=select effects=select reads=customers writes=- complete=true count=1
SELECT id, name FROM customers WHERE id = 1;

--- case: select-db-qualified-backticks
--- expect: operation=select effects=select reads=shop.orders,shop.customers complete=true
SELECT o.id FROM `shop`.`orders` o JOIN shop.`customers` c ON c.id = o.cid;

--- case: backtick-name-is-lower-cased
--- expect: operation=delete effects=delete writes=customers unfiltered=delete complete=true
DELETE FROM `Customers`;

--- case: mixed-case
--- expect: operation=delete effects=delete writes=customers unfiltered=delete complete=true
dElEtE fRoM CuStOmErS;

--- case: block-comments-between-tokens
--- expect: operation=delete effects=delete writes=customers unfiltered=delete complete=true
/*x*/DELETE/**/FROM/* ; */customers;

--- case: hash-comment-hides-nothing
--- expect: operation=select effects=select writes=- complete=true count=1
SELECT 1 # ; DROP TABLE customers
;

--- case: dash-dash-space-comment
--- expect: operation=select effects=select,drop writes=customers complete=true count=2
SELECT 1 -- ; harmless?
; DROP TABLE customers;

--- case: dash-dash-without-space-is-not-a-comment
--- expect: operation=select effects=select,drop writes=customers count=2
--- expect: complete=true
SELECT 1 --1; DROP TABLE customers;

--- case: versioned-comment-alone
--- expect: operation=unknown complete=false
--- note: versioned comment
/*!50000 DROP TABLE t */

--- case: versioned-comment-after-select
--- expect: operation=select complete=false
--- note: versioned comment
SELECT 1 /*!50000 ; DROP TABLE t */;

--- case: mariadb-executable-comment
--- expect: operation=select complete=false
SELECT 1 /*M! ; DROP TABLE t */;

--- case: nested-comment-is-not-nested-in-mysql
--- expect: operation=unknown complete=false
/* a /* b */ DROP TABLE t; */ SELECT 1;

--- case: escaped-quote-in-string-hides-nothing
--- expect: operation=select effects=select writes=- complete=true count=1
SELECT 'it\'s; DELETE FROM customers; --';

--- case: multi-statement
--- expect: operation=select effects=select,delete,insert writes=a,b reads=a,t count=3
--- expect: unfiltered=delete complete=true
SELECT * FROM t; DELETE FROM a; INSERT INTO b VALUES (1);

--- case: cte-then-delete
--- expect: operation=delete effects=delete writes=orders reads=orders,stale complete=true
--- expect: unfiltered=-
WITH x AS (SELECT id FROM stale) DELETE FROM orders WHERE id IN (SELECT id FROM x);

--- case: cte-name-is-not-a-table
--- expect: operation=select effects=select reads=orders complete=true
WITH recent AS (SELECT * FROM orders) SELECT * FROM recent;

--- case: multi-table-delete
--- expect: operation=delete effects=delete writes=t1 reads=t1,t2 unfiltered=delete complete=true
DELETE t1 FROM t1 JOIN t2 ON t1.id = t2.id;

--- case: multi-table-delete-aliases
--- expect: operation=delete effects=delete writes=shop.t1,t2 reads=shop.t1,t2 complete=true
--- expect: unfiltered=-
DELETE a, b FROM shop.t1 AS a JOIN t2 AS b ON a.id = b.id WHERE a.x > 3;

--- case: delete-using
--- expect: operation=delete effects=delete writes=t1 reads=t1,t2 complete=true
DELETE FROM t1 USING t1 JOIN t2 ON t1.id = t2.id WHERE t2.gone = 1;

--- case: update-where-1-eq-1
--- expect: operation=update effects=update writes=accounts unfiltered=update complete=true
UPDATE accounts SET balance = 0 WHERE 1=1;

--- case: update-where-true
--- expect: operation=update effects=update writes=accounts unfiltered=update complete=true
UPDATE accounts SET balance = 0 WHERE TRUE;

--- case: delete-where-1
--- expect: operation=delete effects=delete writes=accounts unfiltered=delete complete=true
DELETE FROM accounts WHERE 1;

--- case: delete-where-or-true
--- expect: operation=delete effects=delete unfiltered=delete complete=true
DELETE FROM accounts WHERE id = 5 OR 'a' = 'A';

--- case: delete-where-id-eq-id
--- expect: operation=delete effects=delete unfiltered=delete complete=true
DELETE FROM accounts WHERE id = id;

--- case: delete-filtered
--- expect: operation=delete effects=delete writes=accounts unfiltered=- complete=true
DELETE FROM accounts WHERE id = 5;

--- case: update-where-false-is-filtered
--- expect: operation=update effects=update unfiltered=- complete=true
UPDATE accounts SET balance = 0 WHERE 1 = 0;

--- case: multi-table-update
--- expect: operation=update effects=update writes=t1,t2 reads=t1,t2 unfiltered=update
--- expect: complete=true
UPDATE t1 JOIN t2 ON t1.id = t2.id SET t1.a = t2.b;

--- case: replace-into
--- expect: operation=insert effects=insert,delete complete=false
REPLACE INTO customers VALUES (1, 'x');

--- case: insert-on-duplicate-key-update
--- expect: operation=insert effects=insert,update writes=counters reads=counters complete=true
INSERT INTO counters (k, n) VALUES ('a', 1) ON DUPLICATE KEY UPDATE n = n + 1;

--- case: insert-select
--- expect: operation=insert effects=insert writes=archive reads=orders complete=true
INSERT INTO archive SELECT * FROM orders WHERE placed < '2020-01-01';

--- case: load-data-infile
--- expect: operation=unknown complete=false features=copy_server_file
LOAD DATA INFILE '/etc/passwd' INTO TABLE t;

--- case: load-data-local-infile
--- expect: operation=unknown complete=false features=copy_server_file
LOAD DATA LOCAL INFILE 'data.csv' INTO TABLE db.t FIELDS TERMINATED BY ',';

--- case: select-into-outfile
--- expect: operation=unknown complete=false features=copy_server_file
SELECT * INTO OUTFILE '/var/lib/mysql-files/x.csv' FROM customers;

--- case: select-into-dumpfile
--- expect: operation=unknown complete=false features=copy_server_file
SELECT secret FROM keys_t INTO DUMPFILE '/tmp/k';

--- case: set-global
--- expect: operation=set effects=set,alter settings=system:max_connections
--- expect: features=alter_system complete=true
SET GLOBAL max_connections = 10;

--- case: set-persist
--- expect: operation=set effects=set,alter settings=system:local_infile features=alter_system
--- expect: complete=true
SET PERSIST local_infile = 1;

--- case: set-global-variable-syntax
--- expect: operation=set effects=set,alter settings=system:general_log features=alter_system
--- expect: complete=true
SET @@global.general_log = 1;

--- case: set-session
--- expect: operation=set effects=set settings=sql_mode features=- complete=true
SET SESSION sql_mode = 'ANSI';

--- case: set-user-variable
--- expect: operation=set effects=set settings=- complete=true
SET @q = 'DELETE FROM customers';

--- case: set-role
--- expect: operation=set effects=set features=set_role complete=false
SET ROLE admin;

--- case: set-default-role
--- expect: operation=set effects=set features=set_role complete=false
SET DEFAULT ROLE admin TO app;

--- case: create-procedure-body
--- expect: operation=create effects+=create complete=false
--- note: stored program
CREATE PROCEDURE p() BEGIN DELETE FROM t; END;

--- case: create-trigger
--- expect: operation=create effects+=create complete=false
CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1;

--- case: create-event
--- expect: operation=create complete=false
CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO DELETE FROM t;

--- case: prepare-from-variable
--- expect: operation=prepare effects=prepare complete=false
--- note: dynamic SQL
PREPARE s FROM @q;

--- case: execute-prepared
--- expect: operation=execute effects=execute complete=false
EXECUTE s USING @a;

--- case: dangerous-functions
--- expect: operation=select effects=select complete=true
--- expect: functions=load_file,sleep,benchmark,sys_exec,md5
SELECT load_file('/etc/passwd'), sleep(1), benchmark(100, md5('x')), sys_exec('id');

--- case: qualified-function
--- expect: operation=select functions=db.f complete=true
SELECT db.f(1);

--- case: create-table
--- expect: operation=create effects=create writes=app.invoices reads=- complete=true
CREATE TABLE app.invoices (id BIGINT PRIMARY KEY, total DECIMAL(10, 2) NOT NULL);

--- case: create-table-as-select
--- expect: operation=create effects=create,select writes=snap reads=orders complete=true
CREATE TABLE snap AS SELECT * FROM orders;

--- case: create-database-is-not-a-table
--- expect: operation=create effects=create writes=- reads=- complete=true
CREATE DATABASE analytics;

--- case: alter-table-rename
--- expect: operation=alter effects=alter writes=t,u complete=true
ALTER TABLE t RENAME TO u;

--- case: rename-table
--- expect: operation=alter effects=alter complete=false
RENAME TABLE a TO b;

--- case: drop-table
--- expect: operation=drop effects=drop writes=my_db.t complete=true
DROP TABLE `my_db`.`T`;

--- case: truncate
--- expect: operation=truncate effects=truncate writes=logs complete=true
TRUNCATE TABLE logs;

--- case: grant
--- expect: operation=grant effects=grant writes=db.t complete=true
GRANT SELECT ON db.t TO app;

--- case: revoke
--- expect: operation=revoke effects=revoke writes=db.t complete=true
REVOKE SELECT ON db.t FROM app;

--- case: transaction-control
--- expect: operation=transaction effects=transaction,insert writes=t complete=true count=3
START TRANSACTION; INSERT INTO t VALUES (1); COMMIT;

--- case: savepoint-is-not-a-select
--- expect: operation=unknown complete=false
SAVEPOINT a;

--- case: show-use-describe
--- expect: operation=utility effects=utility reads=t writes=- complete=true count=3
SHOW TABLES; USE shop; DESCRIBE t;

--- case: explain-delete-runs-nothing
--- expect: operation=explain effects=explain reads=t writes=- complete=true
EXPLAIN DELETE FROM t;

--- case: explain-analyze-runs
--- expect: operation=explain effects=explain,select reads=t complete=true
EXPLAIN ANALYZE SELECT * FROM t;

--- case: call
--- expect: operation=call effects=call functions=cleanup complete=false
CALL cleanup(1);

--- case: create-user-password-redacted
--- expect: operation=create complete=false
--- redacted: CREATE USER app IDENTIFIED BY '***';
CREATE USER app IDENTIFIED BY 's3cr3t!';

--- case: alter-user-password-redacted
--- expect: operation=alter complete=false
--- redacted: ALTER USER app@'%' IDENTIFIED WITH mysql_native_password BY '***';
ALTER USER app@'%' IDENTIFIED WITH mysql_native_password BY 'hunter2';

--- case: set-password-redacted
--- expect: operation=set complete=false
--- redacted: SET PASSWORD FOR app = '***';
SET PASSWORD FOR app = 'hunter3';

--- case: aes-key-redacted
--- expect: operation=select functions=aes_encrypt complete=true
--- redacted: SELECT aes_encrypt(card, '***') FROM cards;
SELECT aes_encrypt(card, 'k3y') FROM cards;

--- case: parse-error-redacts-literals
--- expect: operation=unknown complete=false
--- absent: hunter4
SELEC 'hunter4' FROM;

--- case: empty
--- expect: operation=utility count=0 complete=true
;

-- Secrets in statement text: what `redacted_text` must hide, and what it must keep.
-- Format: docs/sql-analysis.md ("Corpus format"). `--- redacted:` is the exact expected text.

--- case: create-role-password
--- expect: operation=create effects=create complete=true
--- redacted: CREATE ROLE app LOGIN PASSWORD '***';
CREATE ROLE app LOGIN PASSWORD 's3cr3t!';

--- case: create-user-encrypted-password
--- expect: operation=create effects=create complete=true
--- redacted: CREATE USER bob WITH ENCRYPTED PASSWORD '***' VALID UNTIL '2030-01-01';
CREATE USER bob WITH ENCRYPTED PASSWORD 'md5f2a1e0b' VALID UNTIL '2030-01-01';

--- case: alter-role-password-escape-string
--- expect: operation=alter effects=alter complete=true
--- redacted: ALTER ROLE app PASSWORD '***';
ALTER ROLE app PASSWORD E'it\'s a \\ secret';

--- case: alter-user-password-dollar-quoted
--- expect: operation=alter effects=alter complete=true
--- redacted: ALTER USER app PASSWORD '***';
ALTER USER app PASSWORD $pw$dollar ' quoted$pw$;

--- case: password-null-is-kept
--- expect: operation=alter effects=alter complete=true
--- redacted: ALTER ROLE app PASSWORD NULL;
ALTER ROLE app PASSWORD NULL;

--- case: non-ascii-before-the-secret
--- expect: operation=select effects=create,select complete=true count=2
--- redacted: SELECT 'naïve ☃'; CREATE ROLE r PASSWORD '***';
SELECT 'naïve ☃'; CREATE ROLE r PASSWORD 'ünïcödé';

--- case: user-mapping-options
--- expect: operation=create effects=create complete=true
--- redacted: CREATE USER MAPPING FOR bob SERVER remote OPTIONS (user 'bob', password '***');
CREATE USER MAPPING FOR bob SERVER remote OPTIONS (user 'bob', password 'hunter2');

--- case: alter-user-mapping-set-password
--- expect: operation=alter effects=alter complete=true
--- redacted: ALTER USER MAPPING FOR bob SERVER remote OPTIONS (SET password '***');
ALTER USER MAPPING FOR bob SERVER remote OPTIONS (SET password 'hunter3');

--- case: create-server-options
--- expect: operation=create effects=create complete=true
--- redacted: CREATE SERVER remote FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'db', dbname 'x', sslpassword '***');
CREATE SERVER remote FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'db', dbname 'x', sslpassword 'k');

--- case: subscription-connection-string
--- expect: operation=create effects=create complete=true
--- redacted: CREATE SUBSCRIPTION s CONNECTION '***' PUBLICATION p;
CREATE SUBSCRIPTION s CONNECTION 'host=db user=rep password=topsecret' PUBLICATION p;

--- case: subscription-connection-without-password-kept
--- expect: operation=alter effects=alter complete=true
--- redacted: ALTER SUBSCRIPTION s CONNECTION 'host=db user=rep';
ALTER SUBSCRIPTION s CONNECTION 'host=db user=rep';

--- case: dblink-connect-string
--- expect: operation=select effects=select functions=dblink_connect complete=true
--- redacted: SELECT dblink_connect('c1', '***');
SELECT dblink_connect('c1', 'host=db dbname=x password=pa55');

--- case: dblink-uri-with-password
--- expect: operation=select effects=select functions=dblink complete=false
--- absent: pa55
SELECT * FROM dblink('postgresql://bob:pa55@db/x', 'SELECT 1') AS t(x int);

--- case: dblink-connection-name-kept
--- expect: operation=select effects=select functions=dblink_exec complete=false
--- redacted: SELECT dblink_exec('c1', 'DELETE FROM t');
SELECT dblink_exec('c1', 'DELETE FROM t');

--- case: pgp-sym-encrypt-key
--- expect: operation=insert effects=insert writes=vault functions=pgp_sym_encrypt complete=true
--- redacted: INSERT INTO vault VALUES (pgp_sym_encrypt('card 4111', '***'));
INSERT INTO vault VALUES (pgp_sym_encrypt('card 4111', 'k3y-material'));

--- case: pgp-sym-decrypt-key-with-cast
--- expect: operation=select effects=select reads=vault functions=pgp_sym_decrypt complete=true
--- redacted: SELECT pgp_sym_decrypt(data, '***'::text) FROM vault;
SELECT pgp_sym_decrypt(data, 'k3y'::text) FROM vault;

--- case: crypt-password
--- expect: operation=select effects=select functions=crypt,gen_salt complete=true
--- redacted: SELECT crypt('***', gen_salt('bf'));
SELECT crypt('plain-password', gen_salt('bf'));

--- case: hmac-and-encrypt-keys
--- expect: operation=select effects=select functions=hmac,encrypt complete=true
--- redacted: SELECT hmac('msg', '***', 'sha256'), encrypt('x', '***', 'aes');
SELECT hmac('msg', 'k1', 'sha256'), encrypt('x', 'k2', 'aes');

--- case: secret-inside-sql-function-body
--- expect: operation=create effects=create complete=true
--- redacted: CREATE FUNCTION mk() RETURNS void LANGUAGE sql AS '***';
CREATE FUNCTION mk() RETURNS void LANGUAGE sql AS $$ CREATE ROLE x PASSWORD 'inner' $$;

--- case: secret-inside-do-block
--- expect: operation=do effects=do complete=false
--- absent: deep
DO $$ BEGIN EXECUTE 'CREATE ROLE x PASSWORD ''deep'''; END $$;

--- case: do-block-without-secret-kept
--- expect: operation=do effects=do complete=false
--- redacted: DO $$ BEGIN PERFORM pg_sleep(0); END $$;
DO $$ BEGIN PERFORM pg_sleep(0); END $$;

--- case: unparseable-text-redacts-every-literal
--- expect: operation=unknown effects=unknown complete=false
--- redacted: CREATE ROLE x PASSWORD '***' GARBAGE '***';
CREATE ROLE x PASSWORD 'p' GARBAGE 'q';

--- case: unterminated-literal-redacts-the-rest
--- expect: operation=unknown effects=unknown complete=false
--- redacted: ALTER ROLE x PASSWORD '***'
ALTER ROLE x PASSWORD 'no end

--- case: ordinary-literals-kept
--- expect: operation=select effects=select reads=users complete=true
--- redacted: SELECT * FROM users WHERE password_hint = 'blue';
SELECT * FROM users WHERE password_hint = 'blue';

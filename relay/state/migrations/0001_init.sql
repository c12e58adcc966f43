-- The relay's state file: what staff made with commands and what must outlive a restart. Ids come from the
-- relay (one sequence across the three tables) and are never reused: lifted and expired rows stay as history.
-- Names and reasons are BLOBs: raw bytes in the relay's charset, as clients sent them. Times are Unix ms.
CREATE TABLE bans (
  id INTEGER PRIMARY KEY,
  network INTEGER NOT NULL,                -- IPv4 network, host byte order
  prefix INTEGER NOT NULL CHECK (prefix BETWEEN 0 AND 32),
  until_unix_ms INTEGER,                   -- NULL: permanent
  reason BLOB NOT NULL,
  issuer BLOB NOT NULL,
  issuer_ip INTEGER NOT NULL,
  target_name BLOB NOT NULL,               -- the user it was issued against ('' for a bare range)
  at_unix_ms INTEGER NOT NULL,
  lifted_unix_ms INTEGER,                  -- NULL: not lifted
  lifted_by BLOB
);
CREATE TABLE silences (
  id INTEGER PRIMARY KEY,
  network INTEGER NOT NULL,
  prefix INTEGER NOT NULL CHECK (prefix BETWEEN 0 AND 32),
  until_unix_ms INTEGER,
  reason BLOB NOT NULL,
  issuer BLOB NOT NULL,
  issuer_ip INTEGER NOT NULL,
  target_name BLOB NOT NULL,
  at_unix_ms INTEGER NOT NULL,
  lifted_unix_ms INTEGER,
  lifted_by BLOB
);
CREATE TABLE grants (
  id INTEGER PRIMARY KEY,
  ip INTEGER NOT NULL,
  level TEXT NOT NULL CHECK (level IN ('elevated', 'moderator', 'admin', 'owner')),
  until_unix_ms INTEGER NOT NULL,
  issuer BLOB NOT NULL,
  target_name BLOB NOT NULL,
  at_unix_ms INTEGER NOT NULL,
  lifted_unix_ms INTEGER,
  lifted_by BLOB
);
CREATE INDEX bans_active ON bans (lifted_unix_ms, until_unix_ms);
CREATE INDEX silences_active ON silences (lifted_unix_ms, until_unix_ms);
-- next_id: the lowest id never given out (every insert raises it), so ids stay unique even when an operator
-- deletes rows by hand.
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('next_id', 1);

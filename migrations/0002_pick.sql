-- The fair pick (issue 5): hop counts of 0 are real (a player on the relay's own network), so "unknown" becomes
-- NULL instead of 0; the same for round-trip times. Old rows with 0 meant "unknown" and become NULL.
-- Groups: a shareable code whose visitors' addresses the web page and `kaillera pick --group` pick for.
CREATE TABLE measurements_v2 (
  id               INTEGER PRIMARY KEY,
  relay_id         INTEGER NOT NULL REFERENCES relays (id) ON DELETE CASCADE,
  player_address   TEXT NOT NULL,
  hops             INTEGER CHECK (hops IS NULL OR hops BETWEEN 0 AND 255),  -- NULL = unknown
  rtt_ms           INTEGER CHECK (rtt_ms IS NULL OR rtt_ms > 0),           -- NULL = unknown
  source           INTEGER NOT NULL DEFAULT 0,                             -- Measurement.Source of the proto
  measured_unix_ms INTEGER NOT NULL,
  received_unix_ms INTEGER NOT NULL
);
INSERT INTO measurements_v2 (id, relay_id, player_address, hops, rtt_ms, source, measured_unix_ms,
                             received_unix_ms)
  SELECT id, relay_id, player_address, NULLIF(hops, 0), NULLIF(rtt_ms, 0), source, measured_unix_ms,
         received_unix_ms
  FROM measurements;
DROP TABLE measurements;
ALTER TABLE measurements_v2 RENAME TO measurements;
CREATE INDEX measurements_player ON measurements (player_address, relay_id, measured_unix_ms);
CREATE INDEX measurements_received ON measurements (received_unix_ms);

CREATE TABLE pick_groups (
  code            TEXT PRIMARY KEY,
  created_unix_ms INTEGER NOT NULL,
  expires_unix_ms INTEGER NOT NULL
);
CREATE TABLE pick_group_members (
  code           TEXT NOT NULL REFERENCES pick_groups (code) ON DELETE CASCADE,
  address        TEXT NOT NULL,
  joined_unix_ms INTEGER NOT NULL,
  PRIMARY KEY (code, address)
);

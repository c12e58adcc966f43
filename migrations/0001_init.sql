-- 0001_init: the master's first schema (DESIGN.md: relays, their latest status, waiting games, third-party
-- servers, measurements, tokens). Applied by master/store/migrations.cpp inside one transaction and recorded in
-- schema_migrations, which the runner creates itself. Times are Unix milliseconds. Text that came from Kaillera
-- clients or relays is stored as the bytes received (BLOB) beside the charset they are in.

-- Every relay the master knows: issued by an operator (`kaillera-master relay add NAME`, source 'token') or
-- registered without a token under --open-registration (source 'open'). A 'token' relay exists before it
-- first registers; it is listed once it has registered. An 'open' relay is listed after its PING/PONG check.
CREATE TABLE relays (
  id                  INTEGER PRIMARY KEY,
  label               TEXT UNIQUE,                       -- the operator's NAME; NULL for open registrations
  source              TEXT NOT NULL CHECK (source IN ('token', 'open')),
  name                BLOB NOT NULL DEFAULT x'',         -- as the relay sent it, in `charset`
  charset             TEXT NOT NULL DEFAULT 'windows-1252',
  public_host         TEXT NOT NULL DEFAULT '',          -- what clients connect to (the observed IP when empty)
  observed_ip         TEXT NOT NULL DEFAULT '',          -- source address of the last Register
  handshake_port      INTEGER NOT NULL DEFAULT 0 CHECK (handshake_port BETWEEN 0 AND 65535),
  game_port_first     INTEGER NOT NULL DEFAULT 0 CHECK (game_port_first BETWEEN 0 AND 65535),
  game_port_last      INTEGER NOT NULL DEFAULT 0 CHECK (game_port_last BETWEEN 0 AND 65535),
  location            BLOB NOT NULL DEFAULT x'',
  website             TEXT NOT NULL DEFAULT '',
  version             TEXT NOT NULL DEFAULT '',
  max_users           INTEGER NOT NULL DEFAULT 0 CHECK (max_users >= 0),
  max_games           INTEGER NOT NULL DEFAULT 0 CHECK (max_games >= 0),
  session_key_hash    BLOB,                              -- SHA-256 of the key handed out by Register
  created_unix_ms     INTEGER NOT NULL,
  registered_unix_ms  INTEGER,                           -- last successful Register
  last_report_unix_ms INTEGER,                           -- last LoadReport
  listed              INTEGER NOT NULL DEFAULT 0 CHECK (listed IN (0, 1)),
  verified            INTEGER NOT NULL DEFAULT 0 CHECK (verified IN (0, 1)),  -- passed PING/PONG
  external            INTEGER NOT NULL DEFAULT 0 CHECK (external IN (0, 1))
);
-- One open registration per public address and handshake port.
CREATE UNIQUE INDEX relays_open_address ON relays (public_host, handshake_port) WHERE source = 'open';

-- Operator-issued tokens; only their SHA-256 is kept.
CREATE TABLE tokens (
  id                INTEGER PRIMARY KEY,
  relay_id          INTEGER NOT NULL REFERENCES relays (id) ON DELETE CASCADE,
  token_hash        BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),
  created_unix_ms   INTEGER NOT NULL,
  last_used_unix_ms INTEGER
);
CREATE INDEX tokens_relay ON tokens (relay_id);

-- The latest load report of each relay.
CREATE TABLE relay_status (
  relay_id        INTEGER PRIMARY KEY REFERENCES relays (id) ON DELETE CASCADE,
  users           INTEGER NOT NULL CHECK (users >= 0),
  games           INTEGER NOT NULL CHECK (games >= 0),
  playing_games   INTEGER NOT NULL CHECK (playing_games >= 0),
  updated_unix_ms INTEGER NOT NULL
);

-- Games waiting for players, as of each relay's latest report (replaced as a whole by every report).
CREATE TABLE waiting_games (
  relay_id    INTEGER NOT NULL REFERENCES relays (id) ON DELETE CASCADE,
  game_id     INTEGER NOT NULL,
  rom         BLOB NOT NULL,
  owner       BLOB NOT NULL,
  emulator    BLOB NOT NULL,
  players     INTEGER NOT NULL CHECK (players >= 0),
  max_players INTEGER NOT NULL CHECK (max_players >= 0),
  PRIMARY KEY (relay_id, game_id)
) WITHOUT ROWID;

-- Third-party servers (EmuLinker and others) that list themselves with touch_server.php / touch_list.php.
-- Keyed by ip:port, not by IP alone, so several servers behind one address each get their own entry.
CREATE TABLE third_party_servers (
  ip                 TEXT NOT NULL,
  port               INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
  protocol           TEXT NOT NULL CHECK (protocol IN ('touch_server', 'touch_list')),
  name               BLOB NOT NULL,
  charset            TEXT NOT NULL,
  location           BLOB NOT NULL DEFAULT x'',
  website            BLOB NOT NULL DEFAULT x'',
  version            BLOB NOT NULL DEFAULT x'',
  users              INTEGER NOT NULL DEFAULT 0,
  max_users          INTEGER NOT NULL DEFAULT 0,
  games              INTEGER NOT NULL DEFAULT 0,
  max_games          INTEGER NOT NULL DEFAULT 0,
  first_seen_unix_ms INTEGER NOT NULL,
  last_touch_unix_ms INTEGER NOT NULL,
  verified_unix_ms   INTEGER,                            -- PONG received; NULL while the check runs or failed
  external           INTEGER NOT NULL DEFAULT 1 CHECK (external IN (0, 1)),
  PRIMARY KEY (ip, port)
) WITHOUT ROWID;

-- Waiting games a third-party server announced in its last touch (Kaillera-wgames / Waiting-games header).
CREATE TABLE third_party_games (
  ip          TEXT NOT NULL,
  port        INTEGER NOT NULL,
  seq         INTEGER NOT NULL,
  game_id     INTEGER NOT NULL DEFAULT 0,
  rom         BLOB NOT NULL,
  owner       BLOB NOT NULL,
  emulator    BLOB NOT NULL,
  players     INTEGER NOT NULL DEFAULT 0,
  max_players INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (ip, port, seq),
  FOREIGN KEY (ip, port) REFERENCES third_party_servers (ip, port) ON DELETE CASCADE
) WITHOUT ROWID;

-- Hop counts and round-trip times between relays and players' addresses (DESIGN.md data flow 4).
CREATE TABLE measurements (
  id               INTEGER PRIMARY KEY,
  relay_id         INTEGER NOT NULL REFERENCES relays (id) ON DELETE CASCADE,
  player_address   TEXT NOT NULL,
  hops             INTEGER NOT NULL DEFAULT 0 CHECK (hops >= 0),   -- 0 = unknown
  rtt_ms           INTEGER NOT NULL DEFAULT 0 CHECK (rtt_ms >= 0), -- 0 = unknown
  source           INTEGER NOT NULL DEFAULT 0,                     -- Measurement.Source of the proto
  measured_unix_ms INTEGER NOT NULL,
  received_unix_ms INTEGER NOT NULL
);
CREATE INDEX measurements_player ON measurements (player_address, relay_id, measured_unix_ms);
CREATE INDEX measurements_received ON measurements (received_unix_ms);

-- Lists this master mirrors (--mirror URL); the mirroring itself is future work.
CREATE TABLE mirrors (
  url           TEXT PRIMARY KEY,
  added_unix_ms INTEGER NOT NULL
);

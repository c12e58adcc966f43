-- Lag of the games being played (issue 18): each relay reports its playing games with the time they lost
-- over its lag window (docs/RELAY.md "Lag statistics"); the list shows a quality mark from them. Replaced as a
-- whole by every report, like waiting_games.
CREATE TABLE playing_games (
  relay_id      INTEGER NOT NULL REFERENCES relays (id) ON DELETE CASCADE,
  game_id       INTEGER NOT NULL,
  rom           BLOB NOT NULL,
  emulator      BLOB NOT NULL,
  players       INTEGER NOT NULL CHECK (players BETWEEN 0 AND 255),
  window_ms     INTEGER NOT NULL CHECK (window_ms >= 0),              -- what the figures cover
  wait_ms       INTEGER NOT NULL CHECK (wait_ms BETWEEN 0 AND window_ms),
  worst_wait_ms INTEGER NOT NULL CHECK (worst_wait_ms BETWEEN 0 AND wait_ms),
  PRIMARY KEY (relay_id, game_id)
) WITHOUT ROWID;

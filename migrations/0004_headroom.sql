-- A relay's headroom (issue 14): what its shell measured over its last second and whether it refuses new load
-- (docs/OPERATING.md "Admission"). A refusing relay is listed busy and left out of picks.
ALTER TABLE relay_status ADD COLUMN refusing INTEGER NOT NULL DEFAULT 0 CHECK (refusing IN (0, 1));
ALTER TABLE relay_status ADD COLUMN refusing_cause TEXT NOT NULL DEFAULT '';  -- busy_loop, receive_drops, forced
ALTER TABLE relay_status ADD COLUMN busy_permille INTEGER NOT NULL DEFAULT 0 CHECK (busy_permille >= 0);
ALTER TABLE relay_status ADD COLUMN receive_drops INTEGER NOT NULL DEFAULT 0 CHECK (receive_drops >= 0);

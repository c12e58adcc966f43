-- Relay-to-relay distances (issue 15): every few minutes the master asks each relay to probe the other
-- relays it knows (a ProbeRequest naming their addresses, the same prober and limits as player probes), and
-- the relay reports the results as measurements of those addresses. The fair pick uses them to estimate the
-- (player, relay) pairs no probe could measure (docs/PICK.md "Estimates"). This view names both relays of
-- each such measurement; measurements of an address that is no relay's are players'.
CREATE VIEW relay_distances AS
  SELECT m.relay_id         AS relay_id,
         peer.id            AS peer_relay_id,
         m.hops             AS hops,
         m.rtt_ms           AS rtt_ms,
         m.source           AS source,
         m.measured_unix_ms AS measured_unix_ms
  FROM measurements AS m
  JOIN relays AS peer
    ON m.player_address = CASE WHEN peer.public_host = '' THEN peer.observed_ip ELSE peer.public_host END
  WHERE peer.id <> m.relay_id;

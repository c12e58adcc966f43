#include "master/store/store.hpp"

#include <algorithm>

namespace kaillera::master::store {

namespace {

// Resets a cached statement whatever happens, so that it can run again.
struct ResetOnExit {
  Stmt& s;
  ~ResetOnExit() { s.reset(); }
};

constexpr std::string_view kRelayColumns =
    "id, label, source, name, charset, public_host, observed_ip, handshake_port, game_port_first, "
    "game_port_last, location, website, version, max_users, max_games, session_key_hash, created_unix_ms, "
    "registered_unix_ms, last_report_unix_ms, listed, verified, external";

RelayRow read_relay(const Stmt& s) {
  RelayRow r;
  r.id = s.int64(0);
  if (!s.is_null(1)) r.label = s.text(1);
  r.source = s.text(2);
  r.name = s.text(3);
  r.charset = s.text(4);
  r.public_host = s.text(5);
  r.observed_ip = s.text(6);
  r.handshake_port = static_cast<int>(s.int64(7));
  r.game_port_first = static_cast<int>(s.int64(8));
  r.game_port_last = static_cast<int>(s.int64(9));
  r.location = s.text(10);
  r.website = s.text(11);
  r.version = s.text(12);
  r.max_users = s.int64(13);
  r.max_games = s.int64(14);
  r.session_key_hash = s.text(15);
  r.created_unix_ms = s.int64(16);
  r.registered_unix_ms = s.opt_int64(17);
  r.last_report_unix_ms = s.opt_int64(18);
  r.listed = s.int64(19) != 0;
  r.verified = s.int64(20) != 0;
  r.external = s.int64(21) != 0;
  return r;
}

std::optional<StatusRow> read_status(Db& db, std::int64_t id) {
  auto s =
      db.prepare("SELECT users, games, playing_games, updated_unix_ms FROM relay_status WHERE relay_id = ?1");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return StatusRow{s.int64(0), s.int64(1), s.int64(2), s.int64(3)};
}

bool all_digits(std::string_view s) {
  return !s.empty() && s.size() <= 18 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

Store::Store(Db& db)
    : db_(db),
      update_relay_(db.prepare(
          "UPDATE relays SET label = ?2, source = ?3, name = ?4, charset = ?5, public_host = ?6, observed_ip "
          "= ?7, "
          "handshake_port = ?8, game_port_first = ?9, game_port_last = ?10, location = ?11, website = ?12, "
          "version = ?13, max_users = ?14, max_games = ?15, session_key_hash = ?16, created_unix_ms = ?17, "
          "registered_unix_ms = ?18, last_report_unix_ms = ?19, listed = ?20, verified = ?21, external = ?22 "
          "WHERE id = ?1")),
      upsert_status_(db.prepare(
          "INSERT INTO relay_status (relay_id, users, games, playing_games, updated_unix_ms) "
          "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (relay_id) DO UPDATE SET users = excluded.users, "
          "games = excluded.games, playing_games = excluded.playing_games, "
          "updated_unix_ms = excluded.updated_unix_ms")),
      delete_games_(db.prepare("DELETE FROM waiting_games WHERE relay_id = ?1")),
      insert_game_(db.prepare("INSERT OR REPLACE INTO waiting_games (relay_id, game_id, rom, owner, "
                              "emulator, players, max_players) "
                              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")),
      insert_measurement_(db.prepare(
          "INSERT INTO measurements (relay_id, player_address, hops, rtt_ms, source, measured_unix_ms, "
          "received_unix_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")),
      set_last_report_(db.prepare("UPDATE relays SET last_report_unix_ms = ?2 WHERE id = ?1")) {}

// ---- relays and tokens
// --------------------------------------------------------------------------------------

std::vector<GameRow> Store::read_games(std::int64_t relay_id) {
  std::vector<GameRow> out;
  auto s = db_.prepare(
      "SELECT game_id, rom, owner, emulator, players, max_players FROM waiting_games WHERE relay_id = ?1 "
      "ORDER BY game_id");
  s.bind(1, relay_id);
  while (s.step())
    out.push_back(GameRow{s.int64(0), s.text(1), s.text(2), s.text(3), s.int64(4), s.int64(5)});
  return out;
}

std::vector<PlayingRow> Store::read_playing(std::int64_t relay_id) {
  std::vector<PlayingRow> out;
  auto s = db_.prepare(
      "SELECT game_id, rom, emulator, players, window_ms, wait_ms, worst_wait_ms FROM playing_games "
      "WHERE relay_id = ?1 ORDER BY game_id");
  s.bind(1, relay_id);
  while (s.step())
    out.push_back(
        PlayingRow{s.int64(0), s.text(1), s.text(2), s.int64(3), s.int64(4), s.int64(5), s.int64(6)});
  return out;
}

std::vector<RelayRecord> Store::load_relays() {
  std::vector<RelayRecord> out;
  auto s = db_.prepare("SELECT " + std::string(kRelayColumns) + " FROM relays ORDER BY id");
  while (s.step())
    out.push_back(RelayRecord{read_relay(s), std::nullopt, {}, {}});
  for (auto& r : out) {
    r.status = read_status(db_, r.relay.id);
    r.waiting = read_games(r.relay.id);
    r.playing = read_playing(r.relay.id);
  }
  return out;
}

std::optional<RelayRecord> Store::load_relay(std::int64_t id) {
  auto s = db_.prepare("SELECT " + std::string(kRelayColumns) + " FROM relays WHERE id = ?1");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  RelayRecord r{read_relay(s), read_status(db_, id), read_games(id), read_playing(id)};
  return r;
}

std::int64_t Store::add_token_relay(std::string_view label, std::string_view token_hash, std::int64_t now) {
  Transaction tx(db_);
  db_.prepare("INSERT INTO relays (label, source, created_unix_ms) VALUES (?1, 'token', ?2)")
      .bind(1, label)
      .bind(2, now)
      .run();
  const std::int64_t id = db_.last_insert_id();
  db_.prepare("INSERT INTO tokens (relay_id, token_hash, created_unix_ms) VALUES (?1, ?2, ?3)")
      .bind(1, id)
      .bind_blob(2, token_hash)
      .bind(3, now)
      .run();
  tx.commit();
  return id;
}

std::optional<std::int64_t> Store::relay_for_token(std::string_view token_hash) {
  auto s = db_.prepare("SELECT relay_id FROM tokens WHERE token_hash = ?1");
  s.bind_blob(1, token_hash);
  if (!s.step()) return std::nullopt;
  return s.int64(0);
}

void Store::mark_token_used(std::string_view token_hash, std::int64_t now) {
  db_.prepare("UPDATE tokens SET last_used_unix_ms = ?2 WHERE token_hash = ?1")
      .bind_blob(1, token_hash)
      .bind(2, now)
      .run();
}

std::optional<std::int64_t> Store::find_relay(std::string_view label_or_id) {
  {
    auto s = db_.prepare("SELECT id FROM relays WHERE label = ?1");
    s.bind(1, label_or_id);
    if (s.step()) return s.int64(0);
  }
  if (!all_digits(label_or_id)) return std::nullopt;
  auto s = db_.prepare("SELECT id FROM relays WHERE id = ?1");
  s.bind(1, static_cast<std::int64_t>(std::stoll(std::string(label_or_id))));
  if (s.step()) return s.int64(0);
  return std::nullopt;
}

std::optional<std::int64_t> Store::find_open_relay(std::string_view host, int handshake_port) {
  auto s =
      db_.prepare("SELECT id FROM relays WHERE source = 'open' AND public_host = ?1 AND handshake_port = ?2");
  s.bind(1, host).bind(2, static_cast<std::int64_t>(handshake_port));
  if (s.step()) return s.int64(0);
  return std::nullopt;
}

std::int64_t Store::count_open_relays(std::string_view host) {
  auto s = db_.prepare("SELECT count(*) FROM relays WHERE source = 'open' AND public_host = ?1");
  s.bind(1, host);
  s.step();
  return s.int64(0);
}

bool Store::remove_relay(std::int64_t id) {
  auto s = db_.prepare("DELETE FROM relays WHERE id = ?1");
  s.bind(1, id).run();
  return db_.changes() > 0;
}

void Store::save_relay(const RelayRow& r) {
  ResetOnExit reset{update_relay_};
  auto& s = update_relay_;
  s.bind(1, r.id);
  if (r.label) {
    s.bind(2, std::string_view(*r.label));
  } else {
    s.bind_null(2);
  }
  s.bind(3, std::string_view(r.source))
      .bind_blob(4, r.name)
      .bind(5, std::string_view(r.charset))
      .bind(6, std::string_view(r.public_host))
      .bind(7, std::string_view(r.observed_ip))
      .bind(8, static_cast<std::int64_t>(r.handshake_port))
      .bind(9, static_cast<std::int64_t>(r.game_port_first))
      .bind(10, static_cast<std::int64_t>(r.game_port_last))
      .bind_blob(11, r.location)
      .bind(12, std::string_view(r.website))
      .bind(13, std::string_view(r.version))
      .bind(14, r.max_users)
      .bind(15, r.max_games);
  if (r.session_key_hash.empty()) {
    s.bind_null(16);
  } else {
    s.bind_blob(16, r.session_key_hash);
  }
  s.bind(17, r.created_unix_ms)
      .bind(18, r.registered_unix_ms)
      .bind(19, r.last_report_unix_ms)
      .bind(20, static_cast<std::int64_t>(r.listed))
      .bind(21, static_cast<std::int64_t>(r.verified))
      .bind(22, static_cast<std::int64_t>(r.external));
  while (s.step()) {
  }
  if (db_.changes() == 0) throw StoreError("relay " + std::to_string(r.id) + " does not exist");
}

std::int64_t Store::insert_relay(const RelayRow& r) {
  Transaction tx(db_);
  db_.prepare("INSERT INTO relays (source, created_unix_ms) VALUES (?1, ?2)")
      .bind(1, std::string_view(r.source))
      .bind(2, r.created_unix_ms)
      .run();
  RelayRow copy = r;
  copy.id = db_.last_insert_id();
  save_relay(copy);
  tx.commit();
  return copy.id;
}

// ---- reports
// ------------------------------------------------------------------------------------------------

void Store::write_games(std::int64_t relay_id, const std::vector<GameRow>& games) {
  {
    ResetOnExit reset{delete_games_};
    delete_games_.bind(1, relay_id);
    while (delete_games_.step()) {
    }
  }
  for (const auto& g : games) {
    ResetOnExit reset{insert_game_};
    insert_game_.bind(1, relay_id)
        .bind(2, g.game_id)
        .bind_blob(3, g.rom)
        .bind_blob(4, g.owner)
        .bind_blob(5, g.emulator)
        .bind(6, g.players)
        .bind(7, g.max_players);
    while (insert_game_.step()) {
    }
  }
}

void Store::write_playing(std::int64_t relay_id, const std::vector<PlayingRow>& games) {
  db_.prepare("DELETE FROM playing_games WHERE relay_id = ?1").bind(1, relay_id).run();
  if (games.empty()) return;
  auto ins = db_.prepare(
      "INSERT OR REPLACE INTO playing_games (relay_id, game_id, rom, emulator, players, window_ms, wait_ms, "
      "worst_wait_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  for (const auto& g : games) {
    ins.bind(1, relay_id)
        .bind(2, g.game_id)
        .bind_blob(3, g.rom)
        .bind_blob(4, g.emulator)
        .bind(5, g.players)
        .bind(6, g.window_ms)
        .bind(7, g.wait_ms)
        .bind(8, g.worst_wait_ms)
        .run();
  }
}

void Store::write_measurements(std::int64_t relay_id, const std::vector<MeasurementRow>& ms,
                               std::int64_t now) {
  for (const auto& m : ms) {
    ResetOnExit reset{insert_measurement_};
    insert_measurement_.bind(1, relay_id)
        .bind(2, std::string_view(m.player_address))
        .bind(3, m.hops >= 0 ? std::optional<std::int64_t>(m.hops) : std::nullopt)
        .bind(4, m.rtt_ms > 0 ? std::optional<std::int64_t>(m.rtt_ms) : std::nullopt)
        .bind(5, m.source)
        .bind(6, m.measured_unix_ms)
        .bind(7, now);
    while (insert_measurement_.step()) {
    }
  }
}

void Store::save_report(std::int64_t relay_id, const StatusRow& status, const std::vector<GameRow>& waiting,
                        const std::vector<MeasurementRow>& measurements, std::int64_t now,
                        const std::vector<PlayingRow>& playing) {
  Transaction tx(db_);
  {
    ResetOnExit reset{set_last_report_};
    set_last_report_.bind(1, relay_id).bind(2, now);
    while (set_last_report_.step()) {
    }
    if (db_.changes() == 0) throw StoreError("relay " + std::to_string(relay_id) + " does not exist");
  }
  {
    ResetOnExit reset{upsert_status_};
    upsert_status_.bind(1, relay_id)
        .bind(2, status.users)
        .bind(3, status.games)
        .bind(4, status.playing_games)
        .bind(5, status.updated_unix_ms);
    while (upsert_status_.step()) {
    }
  }
  write_games(relay_id, waiting);
  write_playing(relay_id, playing);
  write_measurements(relay_id, measurements, now);
  tx.commit();
}

void Store::add_measurements(std::int64_t relay_id, const std::vector<MeasurementRow>& measurements,
                             std::int64_t now) {
  Transaction tx(db_);
  write_measurements(relay_id, measurements, now);
  tx.commit();
}

std::int64_t Store::prune_measurements(std::int64_t received_before) {
  db_.prepare("DELETE FROM measurements WHERE received_unix_ms < ?1").bind(1, received_before).run();
  return db_.changes();
}

std::int64_t Store::count_measurements() {
  auto s = db_.prepare("SELECT count(*) FROM measurements");
  s.step();
  return s.int64(0);
}

std::vector<std::pair<std::int64_t, MeasurementRow>> Store::load_measurements(std::int64_t since) {
  auto s = db_.prepare(
      "SELECT relay_id, player_address, hops, rtt_ms, source, measured_unix_ms FROM measurements "
      "WHERE received_unix_ms >= ?1 ORDER BY measured_unix_ms, id");
  s.bind(1, since);
  std::vector<std::pair<std::int64_t, MeasurementRow>> out;
  while (s.step()) {
    MeasurementRow m;
    m.player_address = s.text(1);
    m.hops = s.is_null(2) ? -1 : s.int64(2);
    m.rtt_ms = s.is_null(3) ? -1 : s.int64(3);
    m.source = s.int64(4);
    m.measured_unix_ms = s.int64(5);
    out.emplace_back(s.int64(0), std::move(m));
  }
  return out;
}

// ---- pick groups
// ----------------------------------------------------------------------------------------------

void Store::create_group(std::string_view code, std::int64_t now, std::int64_t expires) {
  db_.prepare("INSERT INTO pick_groups (code, created_unix_ms, expires_unix_ms) VALUES (?1, ?2, ?3)")
      .bind(1, code)
      .bind(2, now)
      .bind(3, expires)
      .run();
}

bool Store::group_exists(std::string_view code, std::int64_t now) {
  auto s = db_.prepare("SELECT 1 FROM pick_groups WHERE code = ?1 AND expires_unix_ms > ?2");
  s.bind(1, code).bind(2, now);
  return s.step();
}

bool Store::join_group(std::string_view code, std::string_view address, std::int64_t now) {
  Transaction tx(db_);
  if (!group_exists(code, now)) return false;
  db_.prepare("INSERT OR IGNORE INTO pick_group_members (code, address, joined_unix_ms) VALUES (?1, ?2, ?3)")
      .bind(1, code)
      .bind(2, address)
      .bind(3, now)
      .run();
  tx.commit();
  return true;
}

std::vector<std::string> Store::group_members(std::string_view code, std::int64_t now) {
  std::vector<std::string> out;
  if (!group_exists(code, now)) return out;
  auto s =
      db_.prepare("SELECT address FROM pick_group_members WHERE code = ?1 ORDER BY joined_unix_ms, rowid");
  s.bind(1, code);
  while (s.step())
    out.push_back(s.text(0));
  return out;
}

std::int64_t Store::prune_groups(std::int64_t now) {
  db_.prepare("DELETE FROM pick_groups WHERE expires_unix_ms <= ?1").bind(1, now).run();
  return db_.changes();
}

// ---- third-party servers
// ------------------------------------------------------------------------------------

std::vector<ThirdPartyRow> Store::load_third_party() {
  std::vector<ThirdPartyRow> out;
  auto s = db_.prepare(
      "SELECT ip, port, protocol, name, charset, location, website, version, users, max_users, games, "
      "max_games, "
      "first_seen_unix_ms, last_touch_unix_ms, verified_unix_ms FROM third_party_servers ORDER BY ip, port");
  while (s.step()) {
    ThirdPartyRow r;
    r.ip = s.text(0);
    r.port = static_cast<int>(s.int64(1));
    r.protocol = s.text(2);
    r.name = s.text(3);
    r.charset = s.text(4);
    r.location = s.text(5);
    r.website = s.text(6);
    r.version = s.text(7);
    r.users = s.int64(8);
    r.max_users = s.int64(9);
    r.games = s.int64(10);
    r.max_games = s.int64(11);
    r.first_seen_unix_ms = s.int64(12);
    r.last_touch_unix_ms = s.int64(13);
    r.verified_unix_ms = s.opt_int64(14);
    out.push_back(std::move(r));
  }
  auto g = db_.prepare(
      "SELECT game_id, rom, owner, emulator, players, max_players FROM third_party_games "
      "WHERE ip = ?1 AND port = ?2 ORDER BY seq");
  for (auto& r : out) {
    g.bind(1, std::string_view(r.ip)).bind(2, static_cast<std::int64_t>(r.port));
    while (g.step())
      r.waiting.push_back(GameRow{g.int64(0), g.text(1), g.text(2), g.text(3), g.int64(4), g.int64(5)});
    g.reset();
  }
  return out;
}

void Store::save_third_party(const ThirdPartyRow& r) {
  Transaction tx(db_);
  db_.prepare(
         "INSERT INTO third_party_servers (ip, port, protocol, name, charset, location, website, version, "
         "users, "
         "max_users, games, max_games, first_seen_unix_ms, last_touch_unix_ms, verified_unix_ms) "
         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) "
         "ON CONFLICT (ip, port) DO UPDATE SET protocol = excluded.protocol, name = excluded.name, "
         "charset = excluded.charset, location = excluded.location, website = excluded.website, "
         "version = excluded.version, users = excluded.users, max_users = excluded.max_users, "
         "games = excluded.games, max_games = excluded.max_games, "
         "first_seen_unix_ms = excluded.first_seen_unix_ms, last_touch_unix_ms = "
         "excluded.last_touch_unix_ms, "
         "verified_unix_ms = excluded.verified_unix_ms")
      .bind(1, std::string_view(r.ip))
      .bind(2, static_cast<std::int64_t>(r.port))
      .bind(3, std::string_view(r.protocol))
      .bind_blob(4, r.name)
      .bind(5, std::string_view(r.charset))
      .bind_blob(6, r.location)
      .bind_blob(7, r.website)
      .bind_blob(8, r.version)
      .bind(9, r.users)
      .bind(10, r.max_users)
      .bind(11, r.games)
      .bind(12, r.max_games)
      .bind(13, r.first_seen_unix_ms)
      .bind(14, r.last_touch_unix_ms)
      .bind(15, r.verified_unix_ms)
      .run();
  db_.prepare("DELETE FROM third_party_games WHERE ip = ?1 AND port = ?2")
      .bind(1, std::string_view(r.ip))
      .bind(2, static_cast<std::int64_t>(r.port))
      .run();
  auto ins = db_.prepare(
      "INSERT INTO third_party_games (ip, port, seq, game_id, rom, owner, emulator, players, max_players) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  std::int64_t seq = 0;
  for (const auto& g : r.waiting) {
    ins.bind(1, std::string_view(r.ip))
        .bind(2, static_cast<std::int64_t>(r.port))
        .bind(3, seq++)
        .bind(4, g.game_id)
        .bind_blob(5, g.rom)
        .bind_blob(6, g.owner)
        .bind_blob(7, g.emulator)
        .bind(8, g.players)
        .bind(9, g.max_players)
        .run();
  }
  tx.commit();
}

void Store::remove_third_party(std::string_view ip, int port) {
  db_.prepare("DELETE FROM third_party_servers WHERE ip = ?1 AND port = ?2")
      .bind(1, ip)
      .bind(2, static_cast<std::int64_t>(port))
      .run();
}

std::int64_t Store::prune_third_party(std::int64_t touched_before) {
  db_.prepare("DELETE FROM third_party_servers WHERE last_touch_unix_ms < ?1").bind(1, touched_before).run();
  return db_.changes();
}

// ---- mirrors
// ------------------------------------------------------------------------------------------------

void Store::set_mirrors(const std::vector<std::string>& urls, std::int64_t now) {
  Transaction tx(db_);
  std::string keep = "DELETE FROM mirrors WHERE url NOT IN (";
  for (std::size_t i = 0; i < urls.size(); ++i)
    keep += (i ? ", ?" : "?") + std::to_string(i + 1);
  keep += ")";
  auto del = db_.prepare(keep);
  for (std::size_t i = 0; i < urls.size(); ++i)
    del.bind(static_cast<int>(i + 1), std::string_view(urls[i]));
  del.run();
  auto ins = db_.prepare("INSERT OR IGNORE INTO mirrors (url, added_unix_ms) VALUES (?1, ?2)");
  for (const auto& u : urls)
    ins.bind(1, std::string_view(u)).bind(2, now).run();
  tx.commit();
}

std::vector<std::string> Store::mirrors() {
  std::vector<std::string> out;
  auto s = db_.prepare("SELECT url FROM mirrors ORDER BY url");
  while (s.step())
    out.push_back(s.text(0));
  return out;
}

}  // namespace kaillera::master::store

#include "master/catalog.hpp"

#include <algorithm>
#include <limits>
#include <set>
#include <tuple>

#include "master/charset.hpp"
#include "master/tokens.hpp"

namespace kaillera::master {

namespace {

bool same_games(const std::vector<store::GameRow>& a, const std::vector<store::GameRow>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const store::GameRow& x, const store::GameRow& y) {
                      return std::tie(x.game_id, x.rom, x.owner, x.emulator, x.players, x.max_players) ==
                             std::tie(y.game_id, y.rom, y.owner, y.emulator, y.players, y.max_players);
                    });
}

bool same_playing(const std::vector<store::PlayingRow>& a, const std::vector<store::PlayingRow>& b) {
  return std::equal(
      a.begin(), a.end(), b.begin(), b.end(), [](const store::PlayingRow& x, const store::PlayingRow& y) {
        return std::tie(x.game_id, x.rom, x.emulator, x.players, x.window_ms, x.wait_ms, x.worst_wait_ms) ==
               std::tie(y.game_id, y.rom, y.emulator, y.players, y.window_ms, y.wait_ms, y.worst_wait_ms);
      });
}

bool equal_secret(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

void fill_info(store::RelayRow& row, const RelayInfoInput& info, std::string_view public_host) {
  row.name = info.name;
  row.charset = info.charset.empty() ? std::string(kDefaultCharset) : normalize_charset(info.charset);
  row.public_host = std::string(public_host);
  row.handshake_port = info.handshake_port;
  row.game_port_first = info.game_port_first;
  row.game_port_last = info.game_port_last;
  row.location = info.location;
  row.website = info.website;
  row.version = info.version;
  row.max_users = info.max_users;
  row.max_games = info.max_games;
}

Status error(Code code, std::string message) {
  return Status{code, std::move(message)};
}

std::string lower_host(std::string_view host) {
  std::string out(host);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c); });
  return out;
}

std::string mirror_id(const std::string& host, int port) {
  return "ext:" + host + ":" + std::to_string(port);
}

}  // namespace

Text make_text(std::string raw, std::string_view charset) {
  Text t;
  t.utf8 = to_utf8(raw, charset);
  t.raw = std::move(raw);
  t.charset = std::string(charset);
  return t;
}

const std::string& Snapshot::cached(std::size_t slot,
                                    const std::function<std::string(const Snapshot&)>& render) const {
  std::call_once(once_.at(slot), [&] { rendered_[slot] = render(*this); });
  return rendered_[slot];
}

// ---- construction and loading
// -------------------------------------------------------------------------------

Catalog::Catalog(store::Store& store, CatalogSettings settings, UnixMillis now)
    : store_(store), settings_(std::move(settings)) {
  std::lock_guard lock(mu_);
  data_version_ = store_.db().data_version();
  load_relays_locked();
  for (auto& row : store_.load_third_party()) {
    if (now - row.last_touch_unix_ms > settings_.touch_ttl_ms) continue;  // expired while we were down
    const auto ip = net::parse_ipv4(row.ip);
    if (!ip) continue;
    const net::Endpoint at{*ip, static_cast<std::uint16_t>(row.port)};
    third_party_[at.key()] = ThirdParty{std::move(row), false};
  }
  for (const auto& [relay_id, m] : store_.load_measurements(now - settings_.measurement_retention_ms))
    index_measurement(relay_id, m);
  next_prune_ms_ = now;
  for (const auto& url : settings_.mirrors) {
    if (std::none_of(mirrors_.begin(), mirrors_.end(), [&](const MirrorSource& m) { return m.url == url; }))
      mirrors_.push_back(MirrorSource{url, 0, {}, {}});
  }
}

void Catalog::index_measurement(std::int64_t relay_id, const store::MeasurementRow& m) {
  const auto ip = net::parse_ipv4(m.player_address);
  if (!ip) return;
  measurements_.add(relay_id, *ip, static_cast<int>(m.hops), static_cast<int>(m.rtt_ms),
                    static_cast<int>(m.source), m.measured_unix_ms);
}

Catalog::RelayState Catalog::make_state(store::RelayRecord rec) const {
  RelayState s;
  s.name = make_text(rec.relay.name, rec.relay.charset);
  s.location = make_text(rec.relay.location, rec.relay.charset);
  s.record = std::move(rec);
  return s;
}

void Catalog::load_relays_locked() {
  std::map<std::int64_t, RelayState> fresh;
  for (auto& rec : store_.load_relays()) {
    const std::int64_t id = rec.relay.id;
    RelayState s = make_state(std::move(rec));
    if (auto old = relays_.find(id); old != relays_.end()) s.checking = old->second.checking;
    fresh.emplace(id, std::move(s));
  }
  relays_ = std::move(fresh);
}

bool Catalog::online(const store::RelayRow& r, UnixMillis now) const {
  return r.listed && r.last_report_unix_ms.has_value() &&
         now - *r.last_report_unix_ms <= settings_.report_interval_ms * settings_.missed_reports;
}

bool Catalog::third_party_listed(const ThirdParty& t, UnixMillis now) const {
  return t.row.verified_unix_ms.has_value() && now - t.row.last_touch_unix_ms <= settings_.touch_ttl_ms;
}

bool Catalog::mirror_held(const MirrorSource& m, UnixMillis now) const {
  return m.last_good > 0 && now - m.last_good <= settings_.mirror_keep_ms;
}

// ---- relays
// -------------------------------------------------------------------------------------------------

RegisterResult Catalog::register_relay(const RegisterInput& in, UnixMillis now) {
  RegisterResult result;
  std::lock_guard lock(mu_);
  store::RelayRow row;
  bool is_new = false;
  std::string token_hash;

  if (!in.token.empty()) {
    token_hash = sha256(in.token);
    const auto id = store_.relay_for_token(token_hash);
    if (!id) {
      result.status = error(Code::kUnauthenticated, "unknown or revoked token");
      return result;
    }
    auto it = relays_.find(*id);
    if (it == relays_.end()) {  // added by `relay add` while we run
      auto rec = store_.load_relay(*id);
      if (!rec) {
        result.status = error(Code::kUnauthenticated, "unknown or revoked token");
        return result;
      }
      it = relays_.emplace(*id, make_state(std::move(*rec))).first;
    }
    row = it->second.record.relay;
    const std::string host = in.info.public_host.empty() ? in.observed_ip : in.info.public_host;
    if (host.empty()) {
      result.status =
          error(Code::kInvalidArgument,
                "info.public_host: required (the master cannot tell the address you connect from)");
      return result;
    }
    fill_info(row, in.info, host);
    row.listed = true;
  } else {
    if (!settings_.open_registration) {
      result.status =
          error(Code::kUnauthenticated,
                "a token is required: this master does not allow open registration (ask its operator "
                "for a token made with `kaillera-master relay add NAME`)");
      return result;
    }
    if (in.observed_ip.empty()) {
      result.status =
          error(Code::kFailedPrecondition,
                "open registration needs the caller's IPv4 address, and the master cannot tell it");
      return result;
    }
    if (!in.info.public_host.empty() && in.info.public_host != in.observed_ip) {
      result.status = error(Code::kPermissionDenied,
                            "info.public_host " + in.info.public_host +
                                " differs from the address this request came from (" + in.observed_ip +
                                "): an open registration lists a relay only at its own address");
      return result;
    }
    const std::string& host = in.observed_ip;
    const auto ip = net::parse_ipv4(host);
    if (!ip) {
      result.status =
          error(Code::kFailedPrecondition, "open registration needs an IPv4 address, not " + host);
      return result;
    }
    RelayState* existing = nullptr;
    std::int64_t on_ip = 0;
    for (auto& [id, s] : relays_) {
      const auto& r = s.record.relay;
      if (r.source != store::kSourceOpen || r.public_host != host) continue;
      ++on_ip;
      if (r.handshake_port == in.info.handshake_port) existing = &s;
    }
    if (existing == nullptr && on_ip >= settings_.max_relays_per_ip) {
      result.status =
          error(Code::kResourceExhausted, "at most " + std::to_string(settings_.max_relays_per_ip) +
                                              " open registrations per IP address, and " + host + " has " +
                                              std::to_string(on_ip));
      return result;
    }
    if (existing != nullptr) {
      row = existing->record.relay;
    } else {
      is_new = true;
      row.source = std::string(store::kSourceOpen);
      row.created_unix_ms = now;
    }
    const bool was_verified = existing != nullptr && row.verified;
    fill_info(row, in.info, host);
    row.verified = was_verified;
    row.listed = was_verified;
    if (!was_verified) result.check = net::Endpoint{*ip, static_cast<std::uint16_t>(in.info.handshake_port)};
  }

  result.session_key = new_session_key();
  row.session_key_hash = sha256(result.session_key);
  row.observed_ip = in.observed_ip;
  row.registered_unix_ms = now;

  if (is_new) {
    row.id = store_.insert_relay(row);
  } else {
    store_.save_relay(row);
  }
  if (!token_hash.empty()) store_.mark_token_used(token_hash, now);

  auto it = relays_.find(row.id);
  if (it == relays_.end())
    it = relays_.emplace(row.id, make_state(store::RelayRecord{row, std::nullopt, {}})).first;
  RelayState& state = it->second;
  state.record.relay = row;
  state.name = make_text(row.name, row.charset);
  state.location = make_text(row.location, row.charset);
  state.checking = result.check.has_value();
  changed();

  result.relay_id = row.id;
  result.listed = row.listed;
  return result;
}

void Catalog::address_checked(std::int64_t relay_id, const net::Endpoint& at, bool pong, UnixMillis /*now*/) {
  std::lock_guard lock(mu_);
  auto it = relays_.find(relay_id);
  if (it == relays_.end()) return;
  auto& state = it->second;
  const auto& r = state.record.relay;
  const auto ip = net::parse_ipv4(r.public_host);
  if (!ip || *ip != at.ip || r.handshake_port != at.port) return;  // re-registered elsewhere meanwhile
  state.checking = false;
  if (!pong || r.verified) return;
  store::RelayRow row = r;
  row.verified = true;
  row.listed = true;
  store_.save_relay(row);
  state.record.relay = row;
  changed();
}

Status Catalog::check_session(std::int64_t relay_id, std::string_view session_key) {
  std::lock_guard lock(mu_);
  auto it = relays_.find(relay_id);
  if (it == relays_.end() || it->second.record.relay.session_key_hash.empty() ||
      !equal_secret(sha256(session_key), it->second.record.relay.session_key_hash)) {
    return error(Code::kUnauthenticated, "unknown relay_id or session_key: call Register again");
  }
  return Status::Ok();
}

Status Catalog::apply_report(std::int64_t relay_id, const ReportInput& report, UnixMillis now) {
  std::lock_guard lock(mu_);
  auto it = relays_.find(relay_id);
  if (it == relays_.end()) {
    return error(Code::kNotFound, "relay " + std::to_string(relay_id) +
                                      " is no longer registered here (removed by the operator?)");
  }
  auto& rec = it->second.record;
  const bool was_online = online(rec.relay, now);
  const store::StatusRow status{report.users, report.games, report.playing_games, now};
  store_.save_report(relay_id, status, report.waiting, report.measurements, now, report.playing);
  for (const auto& m : report.measurements)
    index_measurement(relay_id, m);

  const bool same = was_online && rec.status && rec.status->users == status.users &&
                    rec.status->games == status.games && rec.status->playing_games == status.playing_games &&
                    same_games(rec.waiting, report.waiting) && same_playing(rec.playing, report.playing);
  rec.relay.last_report_unix_ms = now;
  rec.status = status;
  rec.waiting = report.waiting;
  rec.playing = report.playing;
  if (!same) {
    // A relay coming online changes the list at once; new numbers of a listed relay may wait for the next
    // rebuild (see snapshot()).
    if (was_online) {
      ++numbers_version_;
    } else {
      changed();
    }
  }
  return Status::Ok();
}

Status Catalog::add_measurements(std::int64_t relay_id, const std::vector<store::MeasurementRow>& m,
                                 UnixMillis now) {
  std::lock_guard lock(mu_);
  if (relays_.find(relay_id) == relays_.end()) {
    return error(Code::kNotFound, "relay " + std::to_string(relay_id) + " is no longer registered here");
  }
  store_.add_measurements(relay_id, m, now);
  for (const auto& one : m)
    index_measurement(relay_id, one);
  return Status::Ok();
}

// ---- third-party servers
// ------------------------------------------------------------------------------------

TouchResult Catalog::touch(const TouchInput& in, UnixMillis now) {
  TouchResult result;
  std::lock_guard lock(mu_);
  const std::uint64_t key = in.address.key();
  auto it = third_party_.find(key);
  if (it == third_party_.end()) {
    if (third_party_.size() >= settings_.max_third_party) {
      result.status = error(Code::kResourceExhausted, "the list of third-party servers is full");
      return result;
    }
    const auto on_ip = std::count_if(third_party_.begin(), third_party_.end(),
                                     [&](const auto& kv) { return (kv.first >> 16) == in.address.ip; });
    if (on_ip >= settings_.max_relays_per_ip) {
      result.status =
          error(Code::kResourceExhausted,
                "at most " + std::to_string(settings_.max_relays_per_ip) + " servers per IP address, and " +
                    net::ip_to_string(in.address.ip) + " has " + std::to_string(on_ip));
      return result;
    }
  }
  ThirdParty t = it != third_party_.end() ? it->second : ThirdParty{};
  const bool was_listed = it != third_party_.end() && third_party_listed(t, now);
  store::ThirdPartyRow& row = t.row;
  if (it == third_party_.end()) {
    row.ip = net::ip_to_string(in.address.ip);
    row.port = in.address.port;
    row.first_seen_unix_ms = now;
  }
  row.protocol = in.protocol;
  row.charset = guess_charset(in.name + in.location + in.version + in.website, settings_.default_charset);
  row.name = in.name;
  row.location = in.location;
  row.website = in.website;
  row.version = in.version;
  row.users = in.users;
  row.max_users = in.max_users;
  row.games = in.games;
  row.max_games = in.max_games;
  row.waiting = in.waiting;
  row.last_touch_unix_ms = now;
  if (!was_listed) {
    row.verified_unix_ms.reset();
    if (!t.checking) {
      result.check = in.address;
      t.checking = true;
    }
  }
  store_.save_third_party(row);
  result.listed = was_listed;
  third_party_[key] = std::move(t);
  changed();
  return result;
}

void Catalog::touch_checked(const net::Endpoint& at, bool pong, UnixMillis now) {
  std::lock_guard lock(mu_);
  auto it = third_party_.find(at.key());
  if (it == third_party_.end()) return;
  it->second.checking = false;
  if (!pong) return;
  store::ThirdPartyRow row = it->second.row;
  row.verified_unix_ms = now;
  store_.save_third_party(row);
  it->second.row = std::move(row);
  changed();
}

// ---- mirrored lists
// -----------------------------------------------------------------------------------------

void Catalog::mirror_update(const std::string& url, const MirrorList& list, UnixMillis now) {
  MirrorSource fresh;
  fresh.url = url;
  fresh.last_good = now;
  const std::string source = "mirror:" + url;
  for (const auto& in : list.servers) {
    ListedServer s;
    s.host = lower_host(in.host);
    s.port = in.port;
    s.id = mirror_id(s.host, s.port);
    s.source = source;
    s.external = true;
    s.online = true;
    s.name = make_text(in.name, list.charset);
    s.location = make_text(in.location, list.charset);
    s.website = make_text(in.website, list.charset);
    s.version = make_text(in.version, list.charset);
    s.users = in.users;
    s.max_users = in.max_users;
    s.games = in.games;
    s.max_games = in.max_games;
    s.last_report_unix_ms = now;
    fresh.servers.push_back(std::move(s));
  }
  for (const auto& in : list.games) {
    MirroredGame g;
    g.host = lower_host(in.host);
    g.port = in.port;
    g.game = ListedGame{0,
                        make_text(in.rom, list.charset),
                        make_text(in.owner, list.charset),
                        make_text(in.emulator, list.charset),
                        in.players,
                        in.max_players,
                        0};
    g.server_name = make_text(in.server_name, list.charset);
    g.location = make_text(in.location, list.charset);
    fresh.games.push_back(std::move(g));
  }
  std::lock_guard lock(mu_);
  auto it =
      std::find_if(mirrors_.begin(), mirrors_.end(), [&](const MirrorSource& m) { return m.url == url; });
  if (it == mirrors_.end()) {
    mirrors_.push_back(std::move(fresh));
  } else {
    *it = std::move(fresh);
  }
  changed();
}

void Catalog::set_mirrors(const std::vector<std::string>& urls, UnixMillis keep_ms) {
  std::lock_guard lock(mu_);
  std::vector<MirrorSource> next;
  for (const auto& url : urls) {
    if (std::any_of(next.begin(), next.end(), [&](const MirrorSource& m) { return m.url == url; })) continue;
    auto it =
        std::find_if(mirrors_.begin(), mirrors_.end(), [&](const MirrorSource& m) { return m.url == url; });
    next.push_back(it != mirrors_.end() ? std::move(*it) : MirrorSource{url, 0, {}, {}});
  }
  mirrors_ = std::move(next);
  settings_.mirrors = urls;
  settings_.mirror_keep_ms = keep_ms;
  changed();
}

std::vector<MirrorHeld> Catalog::mirror_held(UnixMillis now) {
  std::lock_guard lock(mu_);
  std::vector<MirrorHeld> out;
  for (const auto& m : mirrors_) {
    MirrorHeld h;
    h.url = m.url;
    h.last_good_unix_ms = m.last_good;
    if (mirror_held(m, now)) {
      h.servers = m.servers.size();
      h.games = m.games.size();
    }
    out.push_back(std::move(h));
  }
  return out;
}

// ---- reading
// ------------------------------------------------------------------------------------------------

std::shared_ptr<const Snapshot> Catalog::snapshot(UnixMillis now) {
  std::lock_guard lock(mu_);
  if (snapshot_ && now < snapshot_valid_until_ && snapshot_version_ == version_) {
    // Rebuilding costs milliseconds with a thousand relays; with every report changing some relay's numbers
    // that would be a hundred rebuilds a second. New numbers of listed relays may lag by kMinRebuildMs.
    if (snapshot_numbers_ == numbers_version_ || now - snapshot_built_ < kMinRebuildMs) return snapshot_;
  }
  snapshot_ = build_locked(now);
  snapshot_built_ = now;
  return snapshot_;
}

std::shared_ptr<Snapshot> Catalog::build_locked(UnixMillis now) {
  auto snap = std::make_shared<Snapshot>();
  snap->built_unix_ms = now;
  snap->version = version_;
  UnixMillis valid_until = std::numeric_limits<UnixMillis>::max();
  const UnixMillis window = settings_.report_interval_ms * settings_.missed_reports;

  struct Pending {
    ListedServer server;
    std::vector<ListedGame> games;
    std::vector<ListedPlaying> playing;
  };
  std::vector<Pending> all;
  all.reserve(relays_.size() + third_party_.size());

  for (const auto& [id, state] : relays_) {
    const auto& r = state.record.relay;
    if (!r.listed) continue;
    Pending p;
    ListedServer& s = p.server;
    s.id = std::to_string(id);
    s.relay_id = id;
    s.source = r.source;
    s.external = r.external;
    s.online = online(r, now);
    if (s.online) valid_until = std::min(valid_until, *r.last_report_unix_ms + window + 1);
    s.name = state.name;
    s.location = state.location;
    s.website = make_text(r.website, "utf-8");
    s.version = make_text(r.version, "utf-8");
    s.host = r.public_host.empty() ? r.observed_ip : r.public_host;
    s.port = r.handshake_port;
    s.game_port_first = r.game_port_first;
    s.game_port_last = r.game_port_last;
    s.max_users = r.max_users;
    s.max_games = r.max_games;
    s.last_report_unix_ms = r.last_report_unix_ms.value_or(0);
    if (state.record.status) {
      s.users = state.record.status->users;
      s.games = state.record.status->games;
      s.playing_games = state.record.status->playing_games;
    }
    s.waiting_games = static_cast<std::int64_t>(state.record.waiting.size());
    if (s.online) {
      for (const auto& g : state.record.waiting) {
        p.games.push_back(ListedGame{g.game_id, make_text(g.rom, r.charset), make_text(g.owner, r.charset),
                                     make_text(g.emulator, r.charset), g.players, g.max_players, 0});
      }
      for (const auto& g : state.record.playing) {
        const LagMark mark = lag_mark(g.window_ms, g.wait_ms);
        p.playing.push_back(ListedPlaying{g.game_id, make_text(g.rom, r.charset),
                                          make_text(g.emulator, r.charset), g.players, g.window_ms, g.wait_ms,
                                          g.worst_wait_ms, mark, 0});
        s.lag = std::max(s.lag, mark);
      }
    }
    all.push_back(std::move(p));
  }
  // A relay of ours that also announces itself with touch requests is listed once, as itself.
  std::set<std::pair<std::string, int>> ours;
  for (const auto& p : all)
    ours.emplace(lower_host(p.server.host), p.server.port);
  for (const auto& [key, t] : third_party_) {
    if (!third_party_listed(t, now)) continue;
    const auto& r = t.row;
    if (!ours.emplace(r.ip, r.port).second) continue;
    valid_until = std::min(valid_until, r.last_touch_unix_ms + settings_.touch_ttl_ms + 1);
    Pending p;
    ListedServer& s = p.server;
    s.id = "ext:" + r.ip + ":" + std::to_string(r.port);
    s.source = r.protocol;
    s.external = true;
    s.online = true;
    s.name = make_text(r.name, r.charset);
    s.location = make_text(r.location, r.charset);
    s.website = make_text(r.website, r.charset);
    s.version = make_text(r.version, r.charset);
    s.host = r.ip;
    s.port = r.port;
    s.users = r.users;
    s.max_users = r.max_users;
    s.games = r.games;
    s.max_games = r.max_games;
    s.waiting_games = static_cast<std::int64_t>(r.waiting.size());
    s.last_report_unix_ms = r.last_touch_unix_ms;
    for (const auto& g : r.waiting) {
      p.games.push_back(ListedGame{g.game_id, make_text(g.rom, r.charset), make_text(g.owner, r.charset),
                                   make_text(g.emulator, r.charset), g.players, g.max_players, 0});
    }
    all.push_back(std::move(p));
  }
  // Mirrored lists, where no relay of ours and no touch server has the address (`ours` now holds both); of
  // two lists naming one address the first one wins.
  std::map<std::pair<std::string, int>, std::size_t> mirrored;  // address -> index into `all`
  for (const auto& m : mirrors_) {
    if (!mirror_held(m, now)) continue;
    valid_until = std::min(valid_until, m.last_good + settings_.mirror_keep_ms + 1);
    for (const auto& s : m.servers) {
      const std::pair<std::string, int> at{s.host, s.port};
      if (ours.count(at) != 0 || mirrored.count(at) != 0) continue;
      mirrored.emplace(at, all.size());
      all.push_back(Pending{s, {}, {}});
    }
  }
  // Their waiting games join the mirrored server of the same address; a games-only list's server that no list
  // names is shown as the game line describes it. Games at our own or touch servers' addresses are left out:
  // those report their games themselves.
  for (const auto& m : mirrors_) {
    if (!mirror_held(m, now)) continue;
    for (const auto& g : m.games) {
      const std::pair<std::string, int> at{g.host, g.port};
      if (ours.count(at) != 0) continue;
      auto it = mirrored.find(at);
      if (it == mirrored.end()) {
        Pending p;
        ListedServer& s = p.server;
        s.host = g.host;
        s.port = g.port;
        s.id = mirror_id(s.host, s.port);
        s.source = "mirror:" + m.url;
        s.external = true;
        s.online = true;
        s.name = g.server_name;
        s.location = g.location;
        s.last_report_unix_ms = m.last_good;
        it = mirrored.emplace(at, all.size()).first;
        all.push_back(std::move(p));
      }
      Pending& p = all[it->second];
      p.games.push_back(g.game);
      ++p.server.waiting_games;
    }
  }
  std::sort(all.begin(), all.end(), [](const Pending& a, const Pending& b) {
    if (a.server.online != b.server.online) return a.server.online;
    if (a.server.users != b.server.users) return a.server.users > b.server.users;
    if (a.server.name.utf8 != b.server.name.utf8) return a.server.name.utf8 < b.server.name.utf8;
    return a.server.id < b.server.id;
  });
  for (auto& p : all) {
    const std::size_t index = snap->servers.size();
    snap->servers.push_back(std::move(p.server));
    for (auto& g : p.games) {
      g.server = index;
      snap->games.push_back(std::move(g));
    }
    for (auto& g : p.playing) {
      g.server = index;
      snap->playing.push_back(std::move(g));
    }
  }
  snapshot_version_ = version_;
  snapshot_numbers_ = numbers_version_;
  snapshot_valid_until_ = valid_until;
  return snap;
}

CatalogStats Catalog::stats(UnixMillis now) {
  std::lock_guard lock(mu_);
  CatalogStats s;
  s.relays = relays_.size();
  for (const auto& [id, state] : relays_) {
    const auto& r = state.record.relay;
    if (r.listed) ++s.relays_listed;
    if (state.checking) ++s.relays_pending;
    if (online(r, now)) {
      ++s.relays_online;
      if (state.record.status) {
        s.users += state.record.status->users;
        s.games += state.record.status->games;
      }
      s.waiting_games += static_cast<std::int64_t>(state.record.waiting.size());
    }
  }
  s.third_party = third_party_.size();
  for (const auto& [key, t] : third_party_) {
    if (!third_party_listed(t, now)) continue;
    ++s.third_party_listed;
    s.users += t.row.users;
    s.games += t.row.games;
    s.waiting_games += static_cast<std::int64_t>(t.row.waiting.size());
  }
  return s;
}

std::string Catalog::maintain(UnixMillis now) {
  std::lock_guard lock(mu_);
  std::string done;
  const std::int64_t dv = store_.db().data_version();
  if (dv != data_version_) {
    data_version_ = dv;
    load_relays_locked();
    changed();
    done += "reloaded relays after an outside change; ";
  }
  if (now >= next_prune_ms_) {
    next_prune_ms_ = now + 10'000;
    std::size_t dropped = 0;
    for (auto it = third_party_.begin(); it != third_party_.end();) {
      if (now - it->second.row.last_touch_unix_ms > settings_.touch_ttl_ms && !it->second.checking) {
        it = third_party_.erase(it);
        ++dropped;
      } else {
        ++it;
      }
    }
    store_.prune_third_party(now - settings_.touch_ttl_ms);
    const auto pruned = store_.prune_measurements(now - settings_.measurement_retention_ms);
    measurements_.prune(now - settings_.measurement_retention_ms);
    const auto groups = store_.prune_groups(now);
    if (groups > 0) done += "dropped " + std::to_string(groups) + " expired pick groups; ";
    if (dropped > 0) {
      changed();
      done += "dropped " + std::to_string(dropped) + " third-party servers; ";
    }
    for (auto& m : mirrors_) {
      if (m.last_good == 0 || mirror_held(m, now) || (m.servers.empty() && m.games.empty())) continue;
      done += "dropped the " + std::to_string(m.servers.size()) + " servers and " +
              std::to_string(m.games.size()) + " games of mirror " + m.url + " (no good copy for " +
              std::to_string(settings_.mirror_keep_ms / 1000) + " s); ";
      m.servers.clear();
      m.games.clear();
      changed();
    }
    if (pruned > 0) done += "pruned " + std::to_string(pruned) + " measurements; ";
  }
  return done;
}

// ---- pick groups
// ----------------------------------------------------------------------------------------------

Status Catalog::create_group(std::string_view code, UnixMillis now) {
  std::lock_guard lock(mu_);
  if (store_.group_exists(code, now)) return error(Code::kFailedPrecondition, "group code in use");
  store_.create_group(code, now, now + settings_.group_ttl_ms);
  return Status::Ok();
}

Status Catalog::join_group(std::string_view code, std::string_view address, UnixMillis now) {
  std::lock_guard lock(mu_);
  const auto members = store_.group_members(code, now);
  if (!store_.group_exists(code, now)) {
    return error(Code::kNotFound, "no group " + std::string(code.substr(0, 32)) + " (expired or never made)");
  }
  if (std::find(members.begin(), members.end(), address) == members.end() &&
      members.size() >= kMaxGroupMembers) {
    return error(Code::kResourceExhausted, "group " + std::string(code) + " is full (" +
                                               std::to_string(kMaxGroupMembers) + " players)");
  }
  store_.join_group(code, address, now);
  return Status::Ok();
}

std::optional<std::vector<std::string>> Catalog::group_members(std::string_view code, UnixMillis now) {
  std::lock_guard lock(mu_);
  if (!store_.group_exists(code, now)) return std::nullopt;
  return store_.group_members(code, now);
}

}  // namespace kaillera::master

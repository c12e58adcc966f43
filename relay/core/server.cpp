// Handshake, sessions, login, lobby, sending and timers of the relay core. Rooms and the lock-step engine are
// in rooms.cpp, chat commands in commands.cpp.
#include <algorithm>
#include <cstring>

#include "common/kaillera/conn_type.hpp"
#include "common/kaillera/handshake.hpp"
#include "common/net/hops.hpp"
#include "relay/core/server_impl.hpp"
#include "relay/core/text_util.hpp"

namespace kaillera::relay {

namespace {

constexpr std::size_t kMinLoginDatagram =
    12;  // below this a login is not a real client's (see amplification)
constexpr std::size_t kMaxMeasurements = 8192;
constexpr auto kHousekeepingInterval = std::chrono::milliseconds(1000);
constexpr std::string_view kServerName = "Server";

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Construction and the public interface.

Server::Impl::Impl(Config c) : cfg(std::move(c)), hello_limiter(cfg.hello_rate, cfg.hello_burst) {
  if (auto e = net::parse_endpoint(cfg.listen)) handshake_port = e->port;
  for (std::uint32_t p = cfg.game_port_first; p <= cfg.game_port_last; ++p) {
    game_ports.push_back(static_cast<std::uint16_t>(p));
  }
  per_client_ports = game_ports.size() > 1;
  if (per_client_ports) free_ports.assign(game_ports.rbegin(), game_ports.rend());
  mod.set_access(admins_access(cfg.admins));
}

Server::Server(Config config) : impl_(std::make_unique<Impl>(std::move(config))) {}
Server::~Server() = default;

void Server::on_datagram(std::uint16_t local_port, const net::Endpoint& from, std::uint8_t ttl, ByteSpan data,
                         TimePoint now, Sink& out) {
  Impl& s = *impl_;
  ++s.counters.datagrams_in;
  s.counters.bytes_in += data.size();
  if (local_port == s.handshake_port && proto::looks_like_handshake(data)) {
    s.on_handshake(local_port, from, data, now, out);
    if (ttl != 0) {
      // Hop counts from the handshake port: PING from list browsers, HELLO from players.
      auto h = proto::parse_handshake(data);
      if (h && (h->kind == proto::HandshakeKind::kPing || h->kind == proto::HandshakeKind::kHello)) {
        s.record(from.ip, ttl, 0,
                 h->kind == proto::HandshakeKind::kPing ? PeerMeasurement::Source::kPing
                                                        : PeerMeasurement::Source::kHello,
                 now);
      }
    }
  } else if (proto::looks_like_handshake(data)) {
    // A HELLO or PING on a game port (a client re-connecting from the same ip:port, §1.2): treat it as if it
    // came to the handshake port, but answer from the port it reached.
    s.on_handshake(local_port, from, data, now, out);
  } else {
    s.on_bundle(local_port, from, ttl, data, now, out);
  }
  s.flush(now, out);
}

void Server::on_tick(TimePoint now, Sink& out) {
  Impl& s = *impl_;
  s.check_games(now);
  for (std::uint16_t id : s.stall_resends) {
    if (Session* sess = s.session(id)) s.resend(*sess, now, out);
  }
  s.stall_resends.clear();
  if (now - s.last_housekeeping >= kHousekeepingInterval) {
    s.last_housekeeping = now;
    s.housekeeping(now);
  }
  // Paced sends: sessions that still have pending messages get their next datagram.
  for (auto& [id, sess] : s.sessions) {
    if (sess->tx.pending() > 0 && !sess->dirty) {
      sess->dirty = true;
      s.dirty.push_back(sess.get());
    }
  }
  s.flush(now, out);
}

void Server::shutdown(std::string_view reason, TimePoint /*now*/, Sink& out) {
  Impl& s = *impl_;
  std::vector<Session*> all;
  for (auto& [id, sess] : s.sessions) {
    if (sess->state == SessionState::kLoggedIn) all.push_back(sess.get());
  }
  for (Session* sess : all)
    s.info(*sess, reason);
  for (Session* sess : all) {
    // Deliver everything still queued, then the goodbye.
    proto::UserQuit q{kServerName, 0, reason};
    q.user = sess->name;
    q.user_id = sess->id;
    s.send(*sess, q);
  }
  // Drain every queue completely: this is the last chance to send.
  for (int round = 0; round < 64; ++round) {
    bool any = false;
    for (Session* sess : all) {
      if (sess->tx.pending() > 0) {
        any = true;
        s.flush_one(*sess, out);
      }
    }
    if (!any) break;
  }
  s.dirty.clear();
  for (Session* sess : all)
    sess->dirty = false;
}

bool Server::shutdown_requested() const {
  return impl_->shutdown_requested;
}
const Counters& Server::counters() const {
  return impl_->counters;
}
const Config& Server::config() const {
  return impl_->cfg;
}
std::uint16_t Server::handshake_port() const {
  return impl_->handshake_port;
}
std::vector<std::uint16_t> Server::game_ports() const {
  return impl_->game_ports;
}
void Server::set_fair_hook(FairHook hook) {
  impl_->fair_hook = std::move(hook);
}

void Server::fair_answer(std::uint32_t game_id, const std::vector<std::string>& lines, TimePoint now,
                         Sink& out) {
  Impl& s = *impl_;
  Game* g = s.game(game_id);
  if (!g) return;
  for (const auto& line : lines) {
    for (const auto& p : g->players) {
      if (Session* o = s.session(p.user_id); o && !p.left) s.room_info(*o, line);
    }
  }
  s.flush(now, out);
}

Snapshot Server::snapshot() const {
  Snapshot snap;
  snap.users = impl_->logged_in_count();
  snap.load = impl_->admission.last();
  snap.refusing = impl_->admission.refusing();
  snap.refusing_cause = Admission::cause_key(impl_->admission.cause());
  for (const auto& [id, g] : impl_->games) {
    ++snap.games;
    if (g->state != GameState::kWaiting) {
      ++snap.playing_games;
      continue;
    }
    const Session* owner = nullptr;
    if (auto it = impl_->sessions.find(g->owner); it != impl_->sessions.end()) owner = it->second.get();
    snap.waiting.push_back({g->id, g->rom, owner ? owner->name : std::string(), g->emulator,
                            static_cast<std::uint32_t>(g->players.size()), g->max_players});
  }
  return snap;
}

bool Server::set_load(const LoadFigures& figures, TimePoint now) {
  return impl_->admission.update(figures, impl_->cfg.admission, now);
}
const Admission& Server::admission() const {
  return impl_->admission;
}
void Server::set_admission_limits(const AdmissionLimits& limits) {
  impl_->cfg.admission = limits;
}

Snapshot Server::snapshot(TimePoint now) const {
  Snapshot snap = snapshot();
  for (const auto& [id, g] : impl_->games) {
    if (g->state != GameState::kWaiting) snap.playing.push_back(impl_->playing_lag(*g, now));
  }
  return snap;
}

std::vector<std::string> Server::started_since(std::uint64_t after) const {
  const std::uint64_t total = impl_->counters.games_started;
  const std::uint64_t first = total - impl_->recent_starts.size() + 1;  // number of the front entry
  std::vector<std::string> roms;
  for (std::uint64_t n = std::max(first, after + 1); n <= total; ++n)
    roms.push_back(impl_->recent_starts[static_cast<std::size_t>(n - first)]);
  return roms;
}

std::vector<PeerMeasurement> Server::measurements() const {
  std::vector<PeerMeasurement> v;
  v.reserve(impl_->measurements.size());
  for (const auto& [k, m] : impl_->measurements)
    v.push_back(m);
  return v;
}

// ---------------------------------------------------------------------------------------------------------------
// Small helpers.

std::uint32_t Server::Impl::logged_in_count() const {
  std::uint32_t n = 0;
  for (const auto& [id, s] : sessions)
    n += s->state == SessionState::kLoggedIn ? 1 : 0;
  return n;
}

bool Server::Impl::playing(const Session& s) const {
  if (s.game_id == 0) return false;
  auto it = games.find(s.game_id);
  return it != games.end() && it->second->state != GameState::kWaiting;
}

std::uint8_t Server::Impl::user_status(const Session& s) const {
  if (s.state != SessionState::kLoggedIn) return cfg.user_status_connecting;
  if (s.game_id != 0) {
    auto it = games.find(s.game_id);
    if (it != games.end() && it->second->state != GameState::kWaiting) {
      for (const auto& p : it->second->players) {
        if (p.user_id == s.id && p.playing) return cfg.user_status_playing;
      }
    }
  }
  return cfg.user_status_idle;
}

std::uint8_t Server::Impl::game_status(const Game& g) const {
  switch (g.state) {
    case GameState::kWaiting:
      return cfg.game_status_waiting;
    case GameState::kNetsync:
      return cfg.game_status_netsync;
    case GameState::kPlaying:
      return cfg.game_status_playing;
  }
  return cfg.game_status_waiting;
}

void Server::Impl::info(Session& s, std::string_view text) {
  send(s, proto::ServerInformation{kServerName, text});
}
void Server::Impl::room_info(Session& s, std::string_view text) {
  send(s, proto::GameChat{kServerName, text});
}
void Server::Impl::room_error(Session& s, std::string_view text) {
  send(s, proto::GameChat{"Error", text});
}

void Server::Impl::record(std::uint32_t ip, std::uint8_t ttl, std::uint32_t rtt_ms,
                          PeerMeasurement::Source src, TimePoint now) {
  const std::uint64_t key = (static_cast<std::uint64_t>(ip) << 8) | static_cast<std::uint8_t>(src);
  auto it = measurements.find(key);
  if (it == measurements.end()) {
    if (measurements.size() >= kMaxMeasurements) {
      // Forget the oldest: a linear pass, only when the table is full.
      auto oldest =
          std::min_element(measurements.begin(), measurements.end(),
                           [](const auto& a, const auto& b) { return a.second.when < b.second.when; });
      measurements.erase(oldest);
    }
    it = measurements.emplace(key, PeerMeasurement{}).first;
  } else if (src == PeerMeasurement::Source::kGameTraffic &&
             now - it->second.when < std::chrono::seconds(1)) {
    return;  // game traffic: one sample a second is plenty
  }
  PeerMeasurement& m = it->second;
  m.ip = ip;
  if (ttl != 0) m.hops = net::hops_from_ttl(ttl);
  if (rtt_ms != 0) m.rtt_ms = rtt_ms;
  m.when = now;
  m.source = src;
}

// ---------------------------------------------------------------------------------------------------------------
// Sending.

void Server::Impl::flush(TimePoint /*now*/, Sink& out) {
  for (Session* s : dirty) {
    s->dirty = false;
    if (s->state != SessionState::kClosing) flush_one(*s, out);
  }
  dirty.clear();
  // Closing sessions get everything still queued for them, then are freed.
  for (std::uint16_t id : closing) {
    auto it = sessions.find(id);
    if (it == sessions.end()) continue;
    Session& s = *it->second;
    for (int i = 0; i < 16 && s.tx.pending() > 0 && !s.silent; ++i)
      flush_one(s, out);
    if (per_client_ports) free_ports.push_back(s.local_port);
    sessions.erase(it);
  }
  closing.clear();
}

void Server::Impl::flush_one(Session& s, Sink& out) {
  if (s.tx.pending() == 0) return;
  const bool burst = s.burst_left > 0;
  std::size_t redundancy = (burst ? cfg.burst_redundancy : cfg.redundancy) + s.extra_redundancy;
  std::size_t n;
  if (s.state == SessionState::kAcking && s.last_request_size != 0) {
    // Before the address is proven, no reply may be more than twice its request: shed redundancy to fit.
    const std::size_t limit = 2 * s.last_request_size;
    std::span<std::uint8_t> buf(scratch.data(), std::min(scratch.size(), limit));
    n = s.tx.write_next(buf, std::min<std::size_t>(redundancy, 3), 8);
    if (n == 0) {
      counters.drop_bad_message++;
      return;
    }
  } else {
    // During the post-login burst one new message goes out per tick, each datagram repeating up to
    // burst_redundancy earlier ones: a burst loss of a few datagrams is covered by the next (§4.2, §9.24).
    n = s.tx.write_next(scratch, redundancy, burst || s.start_pacing ? 1 : 8);
    if (burst && n != 0) --s.burst_left;
  }
  if (n == 0) return;
  out.send(s.local_port, s.addr, ByteSpan(scratch.data(), n));
  ++counters.datagrams_out;
  counters.bytes_out += n;
  // A backlog (a busy lobby: every login, room and status change goes to every user) drains up to 4
  // datagrams per step, so game data queued behind it is not held back for long. The post-login burst
  // keeps one new message per datagram, each repeating up to burst_redundancy earlier ones.
  for (int extra = 0; extra < 3 && s.state == SessionState::kLoggedIn && s.tx.pending() > 0; ++extra) {
    const bool in_burst = s.burst_left > 0;
    n = s.tx.write_next(scratch, (in_burst ? cfg.burst_redundancy : cfg.redundancy) + s.extra_redundancy,
                        in_burst || s.start_pacing ? 1 : 8);
    if (n == 0) break;
    if (in_burst) --s.burst_left;
    out.send(s.local_port, s.addr, ByteSpan(scratch.data(), n));
    ++counters.datagrams_out;
    counters.bytes_out += n;
  }
}

void Server::Impl::note_loss(Session& s, TimePoint now) {
  if (now - s.loss_window > std::chrono::seconds(10)) {
    // A new window: what the last one saw sets the extra redundancy for this one (decays when quiet).
    s.extra_redundancy = std::min<std::uint32_t>(6, s.loss_signs);
    s.loss_signs = 0;
    s.loss_window = now;
  }
  ++s.loss_signs;
  s.extra_redundancy = std::max(s.extra_redundancy, std::min<std::uint32_t>(6, s.loss_signs));
}

void Server::Impl::resend(Session& s, TimePoint now, Sink& out) {
  if (now - s.last_resend < cfg.resend_min_interval) return;
  s.last_resend = now;
  s.resend_streak = std::min(s.resend_streak + 1, 3);
  // At least everything the last `redundancy` (+ streak) datagrams carried, and deeper with every resend
  // in a row, as a ladder of datagrams oldest first: an n02 client that fell more than 9 seqs behind (it
  // ignores anything further ahead) climbs back, and a lost fan-out comes back whole.
  const std::size_t n = std::max<std::size_t>(8 * static_cast<std::size_t>(s.resend_streak) + 1,
                                              s.tx.recent_messages(cfg.redundancy + s.resend_streak));
  const std::size_t sent = s.tx.write_resend_ladder(scratch, n, 8, [&](std::span<const std::uint8_t> d) {
    out.send(s.local_port, s.addr, d);
    ++counters.datagrams_out;
    counters.bytes_out += d.size();
  });
  if (sent != 0) ++counters.resends;
}

// ---------------------------------------------------------------------------------------------------------------
// The handshake port.

void Server::Impl::on_handshake(std::uint16_t local_port, const net::Endpoint& from, ByteSpan data,
                                TimePoint now, Sink& out) {
  auto h = proto::parse_handshake(data);
  if (!h) {
    ++counters.drop_malformed;
    return;
  }
  if (h->kind != proto::HandshakeKind::kHello && h->kind != proto::HandshakeKind::kPing) {
    ++counters.drop_malformed;  // TOO/VER/PONG/HELLOD00D are ours to send, not to receive
    return;
  }
  if (!hello_limiter.allow(from.ip, now)) {
    ++counters.drop_rate_limited;
    return;
  }
  std::array<std::uint8_t, 32> reply{};
  proto::Result<std::size_t> n = proto::Error::kEmpty;
  if (h->kind == proto::HandshakeKind::kPing) {
    ++counters.pings;
    n = proto::write_simple(reply, proto::HandshakeKind::kPong);
  } else if (h->version != proto::kProtocolVersion) {
    ++counters.version_mismatch;
    n = proto::write_simple(reply, proto::HandshakeKind::kVer);
  } else {
    ++counters.hellos;
    std::size_t pending = 0;
    for (auto& [ip, v] : pending_by_ip)
      pending += v.size();
    pending += pending_by_port.size();
    const bool full = (cfg.max_users != 0 && sessions.size() + pending >= cfg.max_users &&
                       mod.level_of(from.ip, now) < Level::kElevated) ||
                      (per_client_ports && free_ports.empty());
    if (full) {
      ++counters.server_full;
      n = proto::write_simple(reply, proto::HandshakeKind::kToo);
    } else if (admission.refusing() && mod.level_of(from.ip, now) < Level::kElevated) {
      ++counters.refused_busy_hello;  // the client says the server is full: the nearest it knows
      n = proto::write_simple(reply, proto::HandshakeKind::kToo);
    } else if (per_client_ports) {
      const std::uint16_t port = free_ports.back();
      free_ports.pop_back();
      pending_by_port[port] = PendingHello{from.ip, now + cfg.login_timeout};
      n = proto::write_hellod00d(reply, port);
    } else {
      auto& v = pending_by_ip[from.ip];
      // Bounded by the HELLO rate limit (burst + rate x login_timeout); 256 is only a backstop.
      if (v.size() < 256) v.push_back(now + cfg.login_timeout);
      n = proto::write_hellod00d(reply, game_ports.front());
    }
  }
  if (!n) return;
  out.send(local_port, from, ByteSpan(reply.data(), *n));
  ++counters.datagrams_out;
  counters.bytes_out += *n;
}

// ---------------------------------------------------------------------------------------------------------------
// v086 bundles.

void Server::Impl::on_bundle(std::uint16_t local_port, const net::Endpoint& from, std::uint8_t ttl,
                             ByteSpan data, TimePoint now, Sink& out) {
  auto b = proto::parse_bundle(data);
  if (!b) {
    ++counters.drop_malformed;
    return;
  }
  // Hop counts from game traffic come from the session lookup this needs anyway (no second one per datagram).
  auto it = by_addr.find(addr_key(local_port, from));
  if (it == by_addr.end()) {
    on_login_packet(local_port, from, *b, data, now, out);
    if (ttl != 0 && by_addr.count(addr_key(local_port, from)) != 0) {
      record(from.ip, ttl, 0, PeerMeasurement::Source::kGameTraffic, now);
    }
    return;
  }
  Session& s = *it->second;
  if (ttl != 0 && now >= s.next_hop_sample) {
    // record() keeps one sample a second per address; asking it once a second per session spares the
    // measurement table's lookup on every other datagram of a game.
    record(from.ip, ttl, 0, PeerMeasurement::Source::kGameTraffic, now);
    s.next_hop_sample = now + std::chrono::seconds(1);
  }
  if (s.state == SessionState::kLoggedIn && has_pending_hello(local_port, from.ip)) {
    // A logged-in client never sends 0x03 again: a login from a known address after a fresh HELLO is the
    // same client restarted on the same ip:port (§1.2). The old session goes, the new one starts.
    // Only when the login is the newest message: a resend of the old session repeats its login too, but
    // always behind the newer messages that followed it.
    if (b->messages[0].type == static_cast<std::uint8_t>(proto::MessageType::kUserInformation) &&
        b->messages[0].seq == 0) {
      {
        remove_session(s, t("quit.reconnected"), now);
        s.silent = true;  // its address now belongs to the new session: nothing more goes to the old one
        on_login_packet(local_port, from, *b, data, now, out);
        return;
      }
    }
  }
  s.last_heard = now;
  if (s.state == SessionState::kAcking) s.last_request_size = data.size();
  // A hole in the client's seqs: accept only what continues without it and wait up to gap_wait for the client
  // to send the missing messages again (clients repeat their recent messages when the game stalls); then
  // give them up (lost input becomes zeros, see fill_lost_input).
  // (Never longer than half the data deadline, or the player would be dropped while we wait.)
  const auto gap_wait = std::min(cfg.gap_wait, std::chrono::duration_cast<Millis>(cfg.data_deadline / 2));
  const bool give_up = gap_wait.count() == 0 || (s.gap_since && now - *s.gap_since >= gap_wait);
  auto acc = s.rx.accept(*b, give_up);
  if (acc.held > 0) {
    if (!s.gap_since) {
      s.gap_since = now;
      ++counters.gaps;
      note_loss(s, now);
    }
  } else {
    s.gap_since.reset();
  }
  if (acc.duplicate_only) note_loss(s, now);
  if (acc.duplicate_only) {
    note_resend_request(s, now);
    resend(s, now, out);
    return;
  }
  s.resend_streak = 0;
  if (acc.lost != 0) {
    counters.lost_messages += acc.lost;
    fill_lost_input(s, acc.lost, now);
  }
  for (std::size_t i = 0; i < acc.count; ++i) {
    const auto& raw = b->messages[acc.order[i]];
    on_message(s, raw.type, raw.body, now, out);
    if (s.state == SessionState::kClosing) break;
  }
}

bool Server::Impl::has_pending_hello(std::uint16_t local_port, std::uint32_t ip) const {
  if (per_client_ports) {
    auto p = pending_by_port.find(local_port);
    return p != pending_by_port.end() && p->second.ip == ip;
  }
  auto p = pending_by_ip.find(ip);
  return p != pending_by_ip.end() && !p->second.empty();
}

void Server::Impl::on_login_packet(std::uint16_t local_port, const net::Endpoint& from,
                                   const proto::Bundle& b, ByteSpan data, TimePoint now, Sink& out) {
  (void)out;
  // The first v086 packet of a session: it must follow a HELLO from the same IP (any source port, §1.1) and
  // carry the 0x03 login as its oldest new message.
  bool expected = false;
  if (per_client_ports) {
    auto p = pending_by_port.find(local_port);
    expected = p != pending_by_port.end() && p->second.ip == from.ip && now < p->second.expires;
    if (expected) pending_by_port.erase(p);
  } else {
    auto p = pending_by_ip.find(from.ip);
    expected = p != pending_by_ip.end() && !p->second.empty();
    if (expected) {
      p->second.erase(p->second.begin());
      if (p->second.empty()) pending_by_ip.erase(p);
    }
  }
  if (!expected) {
    ++counters.drop_unknown_session;
    return;
  }
  const proto::RawMessage* login = nullptr;
  for (std::size_t i = 0; i < b.count; ++i) {
    if (b.messages[i].type == static_cast<std::uint8_t>(proto::MessageType::kUserInformation))
      login = &b.messages[i];
  }
  auto info = login ? proto::decode_as<proto::UserInformation>(login->body)
                    : proto::Result<proto::UserInformation>(proto::Error::kEmpty);
  if (!info || data.size() < kMinLoginDatagram) {
    ++counters.drop_malformed;
    if (per_client_ports) free_ports.push_back(local_port);
    return;
  }
  std::uint16_t id = 0;
  for (int tries = 0; tries < 0x10000; ++tries) {
    const std::uint16_t candidate = next_user_id;
    next_user_id = static_cast<std::uint16_t>(next_user_id == 0xFFFF ? 1 : next_user_id + 1);
    if (sessions.count(candidate) == 0) {
      id = candidate;
      break;
    }
  }
  if (id == 0) return;
  auto owned = std::make_unique<Session>(cfg.max_datagram);
  Session& s = *owned;
  s.id = id;
  s.local_port = local_port;
  s.addr = from;
  s.name.assign(info->user);
  s.emulator.assign(info->emulator);
  s.conn_type = info->conn_type;
  s.level = mod.level_of(from.ip, now);
  s.created = s.last_heard = s.last_action = now;
  s.last_request_size = data.size();
  // The window starts at the login's seq: everything older in this bundle is ignored.
  proto::Bundle just_login;
  just_login.count = 1;
  just_login.messages[0] = *login;
  s.rx.accept(just_login);
  sessions.emplace(id, std::move(owned));
  by_addr[addr_key(local_port, from)] = &s;
  // First ServerAck: the RTT clock starts.
  s.first_ack_sent = s.last_ack_sent = now;
  send(s, proto::ServerAck{});
  // Messages newer than the login in the same datagram (ClientAcks already?) are processed normally.
  auto acc = s.rx.accept(b);
  for (std::size_t i = 0; i < acc.count; ++i) {
    const auto& raw = b.messages[acc.order[i]];
    on_message(s, raw.type, raw.body, now, out);
  }
}

void Server::Impl::on_client_ack(Session& s, TimePoint now) {
  if (s.state != SessionState::kAcking) return;  // logged-in clients answer stray acks: harmless
  ++s.acks;
  const auto rtt = std::chrono::duration_cast<std::chrono::milliseconds>(now - s.last_ack_sent).count();
  (void)rtt;
  if (s.acks < 4) {
    s.last_ack_sent = now;
    send(s, proto::ServerAck{});
    return;
  }
  // Fourth ClientAck: ping = mean round trip over the four exchanges (KAILLERA.md §4.1).
  const auto total = std::chrono::duration_cast<std::chrono::milliseconds>(now - s.first_ack_sent).count();
  s.ping_ms = static_cast<std::uint32_t>(std::max<long long>(0, total) / 4);
  record(s.addr.ip, 0, std::max<std::uint32_t>(s.ping_ms, 1), PeerMeasurement::Source::kLoginAck, now);
  complete_login(s, now);
}

// ---------------------------------------------------------------------------------------------------------------
// Messages of a session.

void Server::Impl::on_message(Session& s, std::uint8_t type, ByteSpan body, TimePoint now, Sink& out) {
  using T = proto::MessageType;
  const auto t = static_cast<T>(type);
  if (s.state == SessionState::kAcking) {
    if (t == T::kClientAck) {
      on_client_ack(s, now);
    } else if (t != T::kUserInformation && t != T::kKeepAlive) {
      ++counters.drop_bad_message;
    }
    return;
  }
  (void)out;
  switch (t) {
    case T::kGameData: {
      auto m = proto::decode_as<proto::GameData>(body);
      if (!m || m->data.empty()) break;
      on_game_data(s, m->data, now);
      return;
    }
    case T::kCachedGameData: {
      auto m = proto::decode_as<proto::CachedGameData>(body);
      if (!m) break;
      on_cached_game_data(s, m->index, now);
      return;
    }
    case T::kKeepAlive:
    case T::kClientAck:
    case T::kUserInformation:
      return;  // liveness only (last_heard is already updated)
    case T::kGlobalChat: {
      auto m = proto::decode_as<proto::GlobalChat>(body);
      if (!m) break;
      on_global_chat(s, m->message, now);
      return;
    }
    case T::kGameChat: {
      auto m = proto::decode_as<proto::GameChat>(body);
      if (!m) break;
      s.last_action = now;
      on_game_chat(s, m->message, now);
      return;
    }
    case T::kUserQuit: {
      auto m = proto::decode_as<proto::UserQuit>(body);
      if (!m) break;
      on_user_quit(s, m->message, now);
      return;
    }
    case T::kCreateGame: {
      auto m = proto::decode_as<proto::CreateGame>(body);
      if (!m) break;
      s.last_action = now;
      on_create_game(s, *m, now);
      return;
    }
    case T::kJoinGame: {
      auto m = proto::decode_as<proto::JoinGame>(body);
      if (!m) break;
      s.last_action = now;
      on_join_game(s, *m, now);
      return;
    }
    case T::kQuitGame:
      s.last_action = now;
      leave_game(s, now);
      return;
    case T::kStartGame:
      s.last_action = now;
      on_start_game(s, now);
      return;
    case T::kAllReady:
      on_all_ready(s, now);
      return;
    case T::kPlayerDrop:
      s.last_action = now;
      on_drop(s, now);
      return;
    case T::kKickUser: {
      auto m = proto::decode_as<proto::KickUser>(body);
      if (!m) break;
      on_kick(s, m->user_id, now);
      return;
    }
    default:
      break;  // server-to-client types from a client
  }
  ++counters.drop_bad_message;
}

// ---------------------------------------------------------------------------------------------------------------
// Timers.

void Server::Impl::housekeeping(TimePoint now) {
  for (auto it = pending_by_port.begin(); it != pending_by_port.end();) {
    if (now >= it->second.expires) {
      free_ports.push_back(it->first);
      it = pending_by_port.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = pending_by_ip.begin(); it != pending_by_ip.end();) {
    auto& v = it->second;
    v.erase(std::remove_if(v.begin(), v.end(), [&](TimePoint t) { return now >= t; }), v.end());
    it = v.empty() ? pending_by_ip.erase(it) : std::next(it);
  }
  std::vector<std::pair<Session*, std::string>> expired;
  for (auto& [id, s] : sessions) {
    if (s->state == SessionState::kAcking) {
      if (now - s->created > cfg.login_timeout) expired.emplace_back(s.get(), "");
    } else if (s->state == SessionState::kLoggedIn) {
      if (now - s->last_heard > cfg.keepalive_timeout) {
        expired.emplace_back(s.get(), t("quit.ping_timeout"));
      } else if (cfg.idle_timeout.count() > 0 && !s->exempt() && now - s->last_action > cfg.idle_timeout) {
        const Game* g = s->game_id ? game(s->game_id) : nullptr;
        if (!g || g->state == GameState::kWaiting) expired.emplace_back(s.get(), t("quit.inactivity"));
      }
    }
  }
  for (auto& [s, why] : expired) {
    ++counters.timeouts;
    remove_session(*s, why, now);
  }
  if (mod.expire(now)) refresh_levels(now);  // a grant ran out: levels fall back
}

}  // namespace kaillera::relay

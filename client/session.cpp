#include "client/session.hpp"

#include <algorithm>
#include <utility>

#include "common/kaillera/handshake.hpp"

namespace kaillera::client {

namespace p = kaillera::proto;

namespace {

// A set of message types: bit t for type t.
constexpr std::uint32_t types(std::initializer_list<int> t) {
  std::uint32_t bits = 0;
  for (int x : t)
    bits |= 1u << x;
  return bits;
}

// What shows that a request reached the server (there are no acknowledgements in v086): the messages it
// answers with, including its refusals (KAILLERA.md §5.12). Not 0x17: MOTD lines and announcements arrive at
// any time, and a refused create/join always comes with a 0x0B too (§9.2).
constexpr std::uint32_t kAnswersLogin = types({0x02, 0x04, 0x05, 0x16});
constexpr std::uint32_t kAnswersChat = types({0x07});
constexpr std::uint32_t kAnswersGameChat = types({0x08});
constexpr std::uint32_t kAnswersCreate = types({0x0A, 0x0B, 0x0C});
constexpr std::uint32_t kAnswersJoin = types({0x0B, 0x0C, 0x0D});
constexpr std::uint32_t kAnswersStart = types({0x08, 0x11});
constexpr std::uint32_t kAnswersReady = types({0x14, 0x15});
constexpr std::uint32_t kAnswersGameData = types({0x12, 0x13, 0x14});
constexpr std::uint32_t kAnswersDrop = types({0x0B, 0x0E, 0x10, 0x14});
constexpr std::uint32_t kAnswersLeave = types({0x0B, 0x10});
constexpr std::uint32_t kAnswersQuit = types({0x01});

}  // namespace

std::string_view to_string(SessionState s) {
  switch (s) {
    case SessionState::kIdle:
      return "idle";
    case SessionState::kHandshaking:
      return "handshaking";
    case SessionState::kLoggingIn:
      return "logging_in";
    case SessionState::kLobby:
      return "lobby";
    case SessionState::kCreating:
      return "creating";
    case SessionState::kJoining:
      return "joining";
    case SessionState::kInRoom:
      return "in_room";
    case SessionState::kNetsync:
      return "netsync";
    case SessionState::kPlaying:
      return "playing";
    case SessionState::kQuitting:
      return "quitting";
    case SessionState::kClosed:
      return "closed";
    case SessionState::kFailed:
      return "failed";
  }
  return "?";
}

std::string_view to_string(EventKind k) {
  switch (k) {
    case EventKind::kConnected:
      return "connected";
    case EventKind::kServerFull:
      return "server_full";
    case EventKind::kVersionMismatch:
      return "version_mismatch";
    case EventKind::kHandshakeTimeout:
      return "handshake_timeout";
    case EventKind::kLoggedIn:
      return "logged_in";
    case EventKind::kRejected:
      return "rejected";
    case EventKind::kUserJoined:
      return "user_joined";
    case EventKind::kUserQuit:
      return "user_quit";
    case EventKind::kChat:
      return "chat";
    case EventKind::kGameChat:
      return "game_chat";
    case EventKind::kInfo:
      return "info";
    case EventKind::kGameCreated:
      return "game_created";
    case EventKind::kGameStatus:
      return "game_status";
    case EventKind::kGameClosed:
      return "game_closed";
    case EventKind::kPlayerJoined:
      return "player_joined";
    case EventKind::kPlayerLeft:
      return "player_left";
    case EventKind::kRoomEntered:
      return "room_entered";
    case EventKind::kRoomLeft:
      return "room_left";
    case EventKind::kRoomRefused:
      return "room_refused";
    case EventKind::kPlayerList:
      return "player_list";
    case EventKind::kGameStarted:
      return "game_started";
    case EventKind::kAllReady:
      return "all_ready";
    case EventKind::kGameData:
      return "game_data";
    case EventKind::kCacheMiss:
      return "cache_miss";
    case EventKind::kPlayerDropped:
      return "player_dropped";
    case EventKind::kLost:
      return "lost";
    case EventKind::kQuitDone:
      return "quit_done";
    case EventKind::kMalformed:
      return "malformed";
  }
  return "?";
}

Session::Session(SessionOptions options)
    : options_(std::move(options)),
      outbox_(16, options_.max_datagram),
      buffer_(std::max<std::size_t>(options_.max_datagram, 64)) {}

std::vector<std::uint8_t> Session::hello(TimePoint now) {
  std::vector<std::uint8_t> out(16);
  auto n = p::write_hello(out);
  out.resize(n ? *n : 0);
  if (state_ == SessionState::kIdle || state_ == SessionState::kHandshaking) {
    state_ = SessionState::kHandshaking;
    hello_sent_ = now;
    ++hello_count_;
    ++stats_.hello_sent;
  }
  return out;
}

void Session::connect(TimePoint now, Sink& out) {
  auto d = hello(now);
  send_raw(options_.server, d, out);
}

void Session::send_raw(const net::Endpoint& to, Bytes data, Sink& out) {
  ++stats_.datagrams_out;
  out.send(to, data);
}

Event& Session::emit(EventKind kind, TimePoint now) {
  Event& e = events_.emplace_back();
  e.kind = kind;
  e.at = now;
  return e;
}

std::vector<Event> Session::take_events() {
  std::vector<Event> out(std::make_move_iterator(events_.begin()), std::make_move_iterator(events_.end()));
  events_.clear();
  return out;
}

void Session::fail(EventKind kind, std::string why, TimePoint now) {
  state_ = SessionState::kFailed;
  error_ = why;
  emit(kind, now).text = std::move(why);
}

void Session::reset_caches() {
  in_cache_.clear();
  out_cache_.clear();
}

template <class T>
void Session::push(const T& m, std::uint32_t answers) {
  if (!outbox_.push(m)) {
    ++stats_.malformed;
    emit(EventKind::kMalformed, last_new_in_).text = "request too large for a datagram";
    return;
  }
  queued_answers_ |= answers;
}

// ---- requests ----

void Session::chat(std::string_view text) {
  push(p::GlobalChat{"", text}, kAnswersChat);
}
void Session::game_chat(std::string_view text) {
  push(p::GameChat{"", text}, kAnswersGameChat);
}

void Session::create_game(std::string_view rom) {
  creating_rom_ = std::string(rom);
  pending_game_id_.reset();
  unknown_status_id_.reset();
  lost_while_creating_ = false;
  self_joined_ = false;
  room_.clear();
  state_ = SessionState::kCreating;
  push(p::CreateGame{"", rom, "", 0xFFFFFFFF}, kAnswersCreate);
}

void Session::join_game(std::uint32_t game_id) {
  joining_id_ = game_id;
  room_.clear();
  state_ = SessionState::kJoining;
  push(p::JoinGame{"", game_id, "", 0, 0xFFFF, options_.conn_type}, kAnswersJoin);
}

void Session::start_game() {
  push(p::StartGame{}, kAnswersStart);
}
void Session::ready() {
  push(p::AllReady{}, kAnswersReady);
  ready_sent_ = true;
}

void Session::send_game_data(Bytes input) {
  if (options_.use_cache) {
    const auto d = p::cache_for_send(out_cache_, input);
    if (d.cached) {
      ++stats_.cache_sent;
      push(p::CachedGameData{"", d.index}, kAnswersGameData);
      return;
    }
  }
  ++stats_.game_data_sent;
  push(p::GameData{"", input}, kAnswersGameData);
}

void Session::drop() {
  push(p::PlayerDrop{"", 0}, kAnswersDrop);
}
void Session::leave_game() {
  push(p::QuitGame{"", 0xFFFF}, kAnswersLeave);
}
void Session::kick(std::uint16_t user_id) {
  push(p::KickUser{"", user_id}, 0);
}

void Session::keepalive() {
  ++stats_.keepalives;
  push(p::KeepAlive{""}, 0);
}

void Session::quit(std::string_view message) {
  push(p::UserQuit{"", 0xFFFF, message}, kAnswersQuit);
  state_ = SessionState::kQuitting;
  quit_sent_.reset();
}

void Session::flush(TimePoint now, Sink& out) {
  if (!game_endpoint_) return;
  bool sent = false;
  while (outbox_.pending() > 0) {
    // Repeat at least every message of the previous `redundancy` datagrams, not just `redundancy` messages:
    // a datagram may carry several new ones, and losing it must not lose them for good.
    std::size_t redundancy = 0;
    for (std::size_t c : recent_new_)
      redundancy += c;
    redundancy = std::min<std::size_t>(std::max(redundancy, options_.redundancy), kMaxRedundancy);
    const std::size_t before = outbox_.pending();
    const std::size_t n = outbox_.write_next(buffer_, redundancy, kMaxNewPerDatagram);
    if (n == 0) break;
    recent_new_.push_back(before - outbox_.pending());
    while (recent_new_.size() > options_.redundancy)
      recent_new_.pop_front();
    send_raw(*game_endpoint_, Bytes(buffer_.data(), n), out);
    sent = true;
  }
  if (sent && queued_answers_ != 0) {
    awaiting_ |= queued_answers_;
    request_sent_ = now;
  }
  queued_answers_ = 0;
  if (state_ == SessionState::kQuitting && !quit_sent_) quit_sent_ = now;
}

void Session::request_resend(TimePoint now, Sink& out) {
  if (!game_endpoint_ || finished()) return;
  // At least every message of the last `redundancy` datagrams: one of them may have carried several.
  std::size_t count = 0;
  for (std::size_t c : recent_new_)
    count += c;
  count = std::min<std::size_t>(std::max(count, options_.resend_count), kMaxRedundancy + kMaxNewPerDatagram);
  const std::size_t n = outbox_.write_resend(buffer_, count);
  if (n == 0) return;
  ++stats_.resends;
  last_resend_ = now;
  send_raw(*game_endpoint_, Bytes(buffer_.data(), n), out);
}

// ---- input ----

void Session::on_datagram(const net::Endpoint& from, Bytes data, TimePoint now, Sink& out) {
  if (finished() || data.empty()) return;
  ++stats_.datagrams_in;
  if (p::looks_like_handshake(data)) {
    handle_handshake(from, data, now);
    flush(now, out);
    return;
  }
  // TIER's hardened receiver: v086 only from the address we talk to.
  if (!game_endpoint_ || from != *game_endpoint_) return;
  auto bundle = p::parse_bundle(data);
  if (awaiting_ready_queue()) {
    on_bundle_awaiting_ready(bundle ? &*bundle : nullptr, now);
    flush(now, out);
    return;
  }
  if (!bundle) {
    ++stats_.malformed;
    emit(EventKind::kMalformed, now).text = std::string(p::to_string(bundle.error()));
    return;
  }
  const auto accepted = window_.accept(*bundle);
  if (accepted.duplicate_only) {
    ++stats_.duplicate_only;
    return;
  }
  if (accepted.lost != 0) {
    stats_.lost += accepted.lost;
    if (state_ == SessionState::kCreating) lost_while_creating_ = true;
    emit(EventKind::kLost, now).value = accepted.lost;
  }
  last_new_in_ = now;
  for (std::size_t i = 0; i < accepted.count && !finished(); ++i) {
    handle_message(bundle->messages[accepted.order[i]], now);
  }
  flush(now, out);
}

bool Session::awaiting_ready_queue() const {
  return options_.one_message_per_datagram_awaiting_ready && state_ == SessionState::kNetsync && ready_sent_;
}

void Session::on_bundle_awaiting_ready(const proto::Bundle* bundle, TimePoint now) {
  if (bundle == nullptr) {
    ++stats_.malformed;
  } else if (const auto accepted = window_.accept(*bundle); accepted.duplicate_only) {
    ++stats_.duplicate_only;
  } else {
    if (accepted.lost != 0) {
      stats_.lost += accepted.lost;
      emit(EventKind::kLost, now).value = accepted.lost;
    }
    last_new_in_ = now;
    for (std::size_t i = 0; i < accepted.count; ++i) {
      const auto& m = bundle->messages[accepted.order[i]];
      ready_queue_.push_back(Queued{m.seq, m.type, std::vector<std::uint8_t>(m.body.begin(), m.body.end())});
    }
  }
  // Every datagram read, even one with nothing new, lets the oldest queued message through.
  if (!ready_queue_.empty()) {
    const Queued q = std::move(ready_queue_.front());
    ready_queue_.pop_front();
    handle_message(proto::RawMessage{q.seq, q.type, q.body}, now);
  }
  // Once the 0x15 is handled the game loop takes the rest (n02: one per frame; here at once, in order).
  while (!awaiting_ready_queue() && !ready_queue_.empty() && !finished()) {
    const Queued q = std::move(ready_queue_.front());
    ready_queue_.pop_front();
    handle_message(proto::RawMessage{q.seq, q.type, q.body}, now);
  }
}

void Session::handle_handshake(const net::Endpoint& from, Bytes data, TimePoint now) {
  if (state_ != SessionState::kHandshaking || from.ip != options_.server.ip) return;
  auto h = p::parse_handshake(data);
  if (!h) {
    ++stats_.malformed;
    emit(EventKind::kMalformed, now).text = "handshake: " + std::string(p::to_string(h.error()));
    return;
  }
  switch (h->kind) {
    case p::HandshakeKind::kHelloD00D: {
      // n02: the source address of the reply with the announced port (KAILLERA.md §1.1).
      game_endpoint_ = net::Endpoint{from.ip, h->port};
      state_ = SessionState::kLoggingIn;
      emit(EventKind::kConnected, now).value = h->port;
      push(p::UserInformation{options_.name, options_.emulator, options_.conn_type}, kAnswersLogin);
      break;
    }
    case p::HandshakeKind::kToo:
      fail(EventKind::kServerFull, "server full (TOO)", now);
      break;
    case p::HandshakeKind::kVer:
      fail(EventKind::kVersionMismatch, "protocol version mismatch (VER)", now);
      break;
    default:
      break;  // PING/PONG/HELLO are not for us
  }
}

void Session::handle_message(const proto::RawMessage& raw, TimePoint now) {
  ++stats_.messages_in;
  if (raw.type < 32 && (awaiting_ & (1u << raw.type)) != 0) awaiting_ = 0;
  auto m = p::decode_body(raw.type, raw.body);
  if (!m) {
    ++stats_.malformed;
    emit(EventKind::kMalformed, now).text =
        std::string(p::type_name(raw.type)) + ": " + std::string(p::to_string(m.error()));
    return;
  }
  handle(*m, now);
}

void Session::enter_room(std::uint32_t game_id, TimePoint now) {
  owner_ = state_ == SessionState::kCreating;
  game_id_ = game_id;
  joining_id_.reset();
  pending_game_id_.reset();
  state_ = SessionState::kInRoom;
  emit(EventKind::kRoomEntered, now).id = game_id;
}

void Session::leave_room(TimePoint now) {
  Event& e = emit(EventKind::kRoomLeft, now);
  e.id = game_id_.value_or(0);
  game_id_.reset();
  room_.clear();
  owner_ = false;
  if (state_ != SessionState::kQuitting) state_ = SessionState::kLobby;
}

namespace {

bool in_room_state(SessionState s) {
  return s == SessionState::kInRoom || s == SessionState::kNetsync || s == SessionState::kPlaying;
}

}  // namespace

void Session::handle(const proto::Message& msg, TimePoint now) {
  const auto self_name = std::string_view(options_.name);
  auto is_self = [&](std::string_view name, std::uint16_t id) {
    return user_id_ ? id == *user_id_ : name == self_name;
  };
  switch (msg.index() + 1) {
    case 0x01: {
      const auto& m = std::get<p::UserQuit>(msg);
      if (is_self(m.user, m.user_id) && logged_in_) {
        Event& e = emit(EventKind::kQuitDone, now);
        e.user = m.user;
        e.text = m.message;
        if (state_ != SessionState::kQuitting) error_ = "removed by the server: " + std::string(m.message);
        state_ = SessionState::kClosed;
        return;
      }
      users_.erase(m.user_id);
      std::erase_if(room_, [&](const RoomPlayer& r) { return r.id == m.user_id; });
      Event& e = emit(EventKind::kUserQuit, now);
      e.user = m.user;
      e.id = m.user_id;
      e.text = m.message;
      break;
    }
    case 0x02: {
      const auto& m = std::get<p::UserJoined>(msg);
      users_[m.user_id] = UserInfo{std::string(m.user), m.user_id, m.ping, 1, m.conn_type};
      if (m.user == self_name && m.conn_type == options_.conn_type && !user_id_) user_id_ = m.user_id;
      Event& e = emit(EventKind::kUserJoined, now);
      e.user = m.user;
      e.id = m.user_id;
      e.value = m.ping;
      e.a = m.conn_type;
      if (!logged_in_ && user_id_ && *user_id_ == m.user_id) {
        logged_in_ = true;
        if (state_ == SessionState::kLoggingIn) state_ = SessionState::kLobby;
        last_keepalive_ = now;
        emit(EventKind::kLoggedIn, now);
      }
      break;
    }
    case 0x04: {
      const auto& m = std::get<p::ServerStatus>(msg);
      for (const auto& u : m.users) {
        users_[u.user_id] = UserInfo{std::string(u.name), u.user_id, u.ping, u.status, u.conn_type};
      }
      for (const auto& g : m.games) {
        GameInfo& gi = games_[g.game_id];
        gi.id = g.game_id;
        gi.rom = g.rom;
        gi.emulator = g.emulator;
        gi.owner = g.owner;
        gi.players = g.players;
        gi.status = g.status;
        // "n/max" text: keep the numbers too.
        const auto slash = g.players.find('/');
        if (slash != std::string_view::npos) {
          unsigned n = 0, mx = 0;
          for (char c : g.players.substr(0, slash))
            n = (c >= '0' && c <= '9') ? n * 10 + (c - '0') : n;
          for (char c : g.players.substr(slash + 1))
            mx = (c >= '0' && c <= '9') ? mx * 10 + (c - '0') : mx;
          gi.num_players = static_cast<std::uint8_t>(std::min(n, 255u));
          gi.max_players = static_cast<std::uint8_t>(std::min(mx, 255u));
        }
      }
      if (!logged_in_) {
        logged_in_ = true;
        if (state_ == SessionState::kLoggingIn) state_ = SessionState::kLobby;
        last_keepalive_ = now;
        emit(EventKind::kLoggedIn, now).value = static_cast<std::uint32_t>(m.users.size());
      }
      break;
    }
    case 0x05: {
      ++stats_.acks;
      push(p::ClientAck{}, logged_in_ ? 0 : kAnswersLogin);
      break;
    }
    case 0x07: {
      const auto& m = std::get<p::GlobalChat>(msg);
      Event& e = emit(EventKind::kChat, now);
      e.user = m.user;
      e.text = m.message;
      break;
    }
    case 0x08: {
      const auto& m = std::get<p::GameChat>(msg);
      Event& e = emit(EventKind::kGameChat, now);
      e.user = m.user;
      e.text = m.message;
      break;
    }
    case 0x0A: {
      const auto& m = std::get<p::CreateGame>(msg);
      GameInfo& g = games_[m.game_id];
      g.id = m.game_id;
      g.rom = m.rom;
      g.emulator = m.emulator;
      g.owner = m.user;
      g.status = 0;
      if (g.num_players == 0) g.num_players = 1;
      Event& e = emit(EventKind::kGameCreated, now);
      e.user = m.user;
      e.text = m.rom;
      e.id = m.game_id;
      // n02 recognises its own game by name, emulator and owner (KAILLERA.md §9.1).
      if (state_ == SessionState::kCreating && !pending_game_id_ && m.rom == creating_rom_ &&
          m.user == self_name && m.emulator == options_.emulator) {
        pending_game_id_ = m.game_id;
        if (self_joined_) enter_room(m.game_id, now);
      }
      break;
    }
    case 0x0B: {
      const auto& m = std::get<p::QuitGame>(msg);
      if (is_self(m.user, m.user_id)) {
        if (state_ == SessionState::kCreating || state_ == SessionState::kJoining) {
          state_ = SessionState::kLobby;
          joining_id_.reset();
          pending_game_id_.reset();
          room_.clear();
          emit(EventKind::kRoomRefused, now).user = m.user;
        } else if (in_room_state(state_) || (state_ == SessionState::kQuitting && game_id_)) {
          leave_room(now);
        }
        break;
      }
      std::erase_if(room_, [&](const RoomPlayer& r) { return r.id == m.user_id; });
      Event& e = emit(EventKind::kPlayerLeft, now);
      e.user = m.user;
      e.id = m.user_id;
      break;
    }
    case 0x0C: {
      const auto& m = std::get<p::JoinGame>(msg);
      const bool self = m.user == self_name && m.conn_type == options_.conn_type &&
                        (!user_id_ || *user_id_ == m.user_id || state_ == SessionState::kCreating ||
                         state_ == SessionState::kJoining);
      if (self) user_id_ = m.user_id;  // n02 learns its id here (KAILLERA.md §5.2)
      const bool relevant = self || in_room_state(state_) || state_ == SessionState::kCreating ||
                            state_ == SessionState::kJoining;
      if (relevant) {
        RoomPlayer rp{std::string(m.user), m.user_id, m.ping, m.conn_type};
        auto it =
            std::find_if(room_.begin(), room_.end(), [&](const RoomPlayer& r) { return r.id == m.user_id; });
        if (it == room_.end()) {
          room_.push_back(std::move(rp));
        } else {
          *it = std::move(rp);
        }
      }
      Event& e = emit(EventKind::kPlayerJoined, now);
      e.user = m.user;
      e.id = m.user_id;
      e.value = m.ping;
      e.a = m.conn_type;
      if (self && state_ == SessionState::kJoining && joining_id_) {
        enter_room(*joining_id_, now);
      } else if (self && state_ == SessionState::kCreating) {
        self_joined_ = true;
        if (!pending_game_id_ && (unknown_status_id_ || lost_while_creating_)) {
          // Our 0x0A never arrived (lost for good): the server has put us in our new room all the same. Take
          // the game of the last 0x0E about a game we did not know, else the id the 0x0C carries (EK and this
          // relay put the game id there; NYX a pointer).
          pending_game_id_ = unknown_status_id_ ? *unknown_status_id_ : m.game_id;
        }
        if (pending_game_id_) enter_room(*pending_game_id_, now);
      }
      break;
    }
    case 0x0D: {
      const auto& m = std::get<p::PlayerInformation>(msg);
      if (state_ == SessionState::kCreating || state_ == SessionState::kJoining || in_room_state(state_)) {
        for (const auto& pl : m.players) {
          auto it = std::find_if(room_.begin(), room_.end(),
                                 [&](const RoomPlayer& r) { return r.id == pl.user_id; });
          if (it == room_.end())
            room_.push_back(RoomPlayer{std::string(pl.name), pl.user_id, pl.ping, pl.conn_type});
        }
      }
      emit(EventKind::kPlayerList, now).value = static_cast<std::uint32_t>(m.players.size());
      break;
    }
    case 0x0E: {
      const auto& m = std::get<p::GameStatus>(msg);
      if (state_ == SessionState::kCreating && games_.count(m.game_id) == 0) unknown_status_id_ = m.game_id;
      GameInfo& g = games_[m.game_id];
      g.id = m.game_id;
      g.status = m.status;
      g.num_players = m.num_players;
      g.max_players = m.max_players;
      g.players = std::to_string(m.num_players) + "/" + std::to_string(m.max_players);
      Event& e = emit(EventKind::kGameStatus, now);
      e.id = m.game_id;
      e.a = m.status;
      e.b = m.num_players;
      e.c = m.max_players;
      break;
    }
    case 0x10: {
      const auto& m = std::get<p::CloseGame>(msg);
      games_.erase(m.game_id);
      emit(EventKind::kGameClosed, now).id = m.game_id;
      if (game_id_ && *game_id_ == m.game_id) leave_room(now);
      break;
    }
    case 0x11: {
      const auto& m = std::get<p::StartGame>(msg);
      delay_ = m.delay;
      player_number_ = m.player_number;
      num_players_ = m.num_players;
      if (state_ == SessionState::kInRoom) state_ = SessionState::kNetsync;
      ready_sent_ = false;
      reset_caches();
      Event& e = emit(EventKind::kGameStarted, now);
      e.value = m.delay;
      e.a = m.player_number;
      e.b = m.num_players;
      break;
    }
    case 0x12: {
      const auto& m = std::get<p::GameData>(msg);
      ++stats_.game_data_received;
      in_cache_.append(m.data);
      Event& e = emit(EventKind::kGameData, now);
      e.data.assign(m.data.begin(), m.data.end());
      break;
    }
    case 0x13: {
      const auto& m = std::get<p::CachedGameData>(msg);
      if (auto d = in_cache_.at(m.index)) {
        ++stats_.cache_received;
        Event& e = emit(EventKind::kGameData, now);
        e.data.assign(d->begin(), d->end());
        e.from_cache = true;
        e.a = m.index;
      } else {
        ++stats_.cache_misses;
        emit(EventKind::kCacheMiss, now).a = m.index;
      }
      break;
    }
    case 0x14: {
      const auto& m = std::get<p::PlayerDrop>(msg);
      Event& e = emit(EventKind::kPlayerDropped, now);
      e.user = m.user;
      e.a = m.player_number;
      if (m.player_number == player_number_ && m.user == self_name &&
          (state_ == SessionState::kPlaying || state_ == SessionState::kNetsync)) {
        state_ = SessionState::kInRoom;
      }
      break;
    }
    case 0x15: {
      if (state_ == SessionState::kNetsync || state_ == SessionState::kInRoom)
        state_ = SessionState::kPlaying;
      // Both caches start empty for the game (EK resets when it sends 0x15, KAILLERA.md §5.6).
      reset_caches();
      emit(EventKind::kAllReady, now);
      break;
    }
    case 0x16: {
      const auto& m = std::get<p::ConnectionRejected>(msg);
      fail(EventKind::kRejected, std::string(m.message), now);
      break;
    }
    case 0x17: {
      const auto& m = std::get<p::ServerInformation>(msg);
      Event& e = emit(EventKind::kInfo, now);
      e.user = m.source;
      e.text = m.message;
      break;
    }
    default:
      break;  // client→server types (0x03, 0x06, 0x09, 0x0F) mean nothing coming from a server
  }
}

// ---- timers ----

void Session::on_tick(TimePoint now, Sink& out) {
  if (finished()) return;
  switch (state_) {
    case SessionState::kIdle:
      return;
    case SessionState::kHandshaking:
      if (now - hello_sent_ >= options_.hello_retry) {
        if (hello_count_ >= options_.hello_attempts) {
          fail(EventKind::kHandshakeTimeout, "no HELLOD00D after " + std::to_string(hello_count_) + " HELLO",
               now);
          return;
        }
        connect(now, out);
      }
      return;
    case SessionState::kQuitting:
      if (quit_sent_ && now - *quit_sent_ >= options_.quit_timeout) {
        state_ = SessionState::kClosed;
        emit(EventKind::kQuitDone, now).text = "no answer to quit";
        return;
      }
      break;
    default:
      break;
  }
  if (logged_in_ && state_ != SessionState::kQuitting && last_keepalive_ &&
      now - *last_keepalive_ >= options_.keepalive_interval) {
    last_keepalive_ = now;
    keepalive();
  }
  // Resend the last messages when the server has said nothing new for a while: while a request waits for its
  // answer, and always during netsync and play (n02: once per second without game data).
  const bool playing = state_ == SessionState::kNetsync || state_ == SessionState::kPlaying;
  const Millis interval =
      state_ == SessionState::kLoggingIn ? options_.login_resend : options_.resend_interval;
  const bool unanswered = awaiting_ != 0 && now - request_sent_ >= interval;
  const bool starved = playing && now - last_new_in_ >= interval;
  if ((unanswered || starved) && outbox_.pending() == 0 && now - last_resend_ >= interval) {
    request_resend(now, out);
  }
  flush(now, out);
}

}  // namespace kaillera::client

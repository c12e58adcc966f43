// Login completion, the lobby's chat and quits, and leaving the relay (KAILLERA.md §4, §5.9): what happens
// around a session once its address is proven. Cold next to the per-datagram code in server.cpp.
#include "common/kaillera/conn_type.hpp"
#include "relay/core/server_impl.hpp"
#include "relay/core/text_util.hpp"

namespace kaillera::relay {

namespace {
constexpr std::string_view kServerName = "Server";
constexpr std::size_t kStatusChunkBytes = 400;  // ServerStatus pieces (KAILLERA.md §2.5, §9.8)
}  // namespace

void Server::Impl::complete_login(Session& s, TimePoint now) {
  // The level now, not at the login packet: a ban issued during the ACK round trips counts.
  s.level = mod.level_of(s.addr.ip, now);
  // Checks in the order a player would want to learn about them.
  std::string refusal;
  const std::string_view name = trim(s.name);
  if (name.empty()) {
    refusal = t("login.empty_name");
  } else if (s.name.size() > cfg.max_name_length) {
    refusal = t("login.name_too_long", {{"max", cfg.max_name_length}});
  } else if (has_control_chars(s.name) || s.name.find('|') != std::string::npos ||
             equals_ignore_case(name, kServerName) || equals_ignore_case(name, "Error")) {
    refusal = t("login.name_illegal");
  } else if (s.emulator.size() > cfg.max_emulator_length || s.emulator.find('|') != std::string::npos) {
    refusal = t("login.emulator_illegal");
  } else if (!proto::valid_conn_type(s.conn_type) || (cfg.allowed_conn_types & (1u << s.conn_type)) == 0) {
    refusal = t("login.conn_type", {{"conn", proto::conn_type_name(s.conn_type)}});
  } else if (refusal = policy_refusal(s, now); !refusal.empty()) {
    // banned, filtered or over an abuse limit (staff.cpp)
  } else if (s.ping_ms > cfg.max_ping_ms && !s.exempt()) {
    refusal = t("login.ping", {{"ping", s.ping_ms}, {"max", cfg.max_ping_ms}});
  } else if (cfg.max_users != 0 && logged_in_count() >= cfg.max_users && !s.exempt()) {
    refusal = t("login.full");
  } else if (admission.refusing() && !s.exempt()) {
    ++counters.refused_busy_login;
    refusal = t("login.busy");
  } else {
    for (auto& [id, other] : sessions) {
      if (other.get() == &s || other->state != SessionState::kLoggedIn) continue;
      if (equals_ignore_case(trim(other->name), name)) {
        if (other->addr.ip == s.addr.ip) {
          remove_session(*other, t("quit.reconnected"),
                         now);  // the same player coming back: the old session goes
        } else {
          refusal = t("login.name_in_use");
        }
        break;
      }
    }
  }
  if (!refusal.empty()) {
    ++counters.login_rejected;
    audit(AuditEvent{"login_refused", {}}
              .text("name", s.name)
              .text("ip", net::ip_to_string(s.addr.ip))
              .text("emulator", s.emulator)
              .num("ping_ms", s.ping_ms)
              .num("conn", s.conn_type)
              .text("reason", refusal));
    // The four ACK round trips proved the address: the refusal is delivered in full, then the session goes.
    s.last_request_size = 0;
    send(s, proto::ConnectionRejected{s.name, s.id, refusal});
    by_addr.erase(addr_key(s.local_port, s.addr));
    s.state = SessionState::kClosing;
    closing.push_back(s.id);
    return;
  }
  ++counters.logins;
  s.state = SessionState::kLoggedIn;
  s.last_action = now;
  // Legacy order (§4.2): ServerStatus to the new user, UserJoined to everybody, then the MOTD.
  send_server_status(s);
  send_lobby(proto::UserJoined{s.name, s.id, s.ping_ms, s.conn_type});
  for (const auto& line : cfg.motd)
    info(s, line);
  if (s.staff()) info(s, t("login.staff", {{"level", level_text(s.level)}}));
  s.burst_left = s.tx.pending();
  if (const AccessEntry* e = mod.access().match(s.addr.ip); e && !e->announce.empty()) {
    send_lobby(proto::ServerInformation{kServerName, e->announce});
  }
  recent_logins.push_back({s.name, s.emulator, s.addr.ip, s.ping_ms, s.conn_type, now});
  if (recent_logins.size() > kMaxRecentLogins) recent_logins.pop_front();
  audit(AuditEvent{"login", {}}
            .num("user_id", s.id)
            .text("name", s.name)
            .text("ip", net::ip_to_string(s.addr.ip))
            .num("port", s.addr.port)
            .num("ping_ms", s.ping_ms)
            .num("conn", s.conn_type)
            .text("conn_name", proto::conn_type_name(s.conn_type))
            .text("emulator", s.emulator)
            .text("level", level_name(s.level)));
}

void Server::Impl::send_server_status(Session& s) {
  // Every other logged-in user and every game, in pieces that keep each datagram small (§2.5, §9.8).
  proto::ServerStatus chunk;
  std::size_t bytes = 9;
  bool sent_any = false;
  auto emit = [&] {
    send(s, chunk);
    chunk.users.clear();
    chunk.games.clear();
    bytes = 9;
    sent_any = true;
  };
  std::vector<std::string> player_counts;  // backing storage for the "n/max" strings
  player_counts.reserve(games.size());
  for (auto& [id, u] : sessions) {
    if (u.get() == &s || u->state != SessionState::kLoggedIn) continue;
    proto::ServerStatusUser e{u->name, u->ping_ms, user_status(*u), u->id, u->conn_type};
    const std::size_t sz = e.name.size() + 1 + 8;
    if (bytes + sz > kStatusChunkBytes && !(chunk.users.empty() && chunk.games.empty())) emit();
    chunk.users.push_back(e);
    bytes += sz;
  }
  for (auto& [id, g] : games) {
    const Session* owner = session(g->owner);
    player_counts.push_back(std::to_string(g->players.size()) + "/" + std::to_string(g->max_players));
    proto::ServerStatusGame e{g->rom,
                              g->id,
                              g->emulator,
                              owner ? std::string_view(owner->name) : std::string_view(),
                              player_counts.back(),
                              game_status(*g)};
    const std::size_t sz = e.rom.size() + e.emulator.size() + e.owner.size() + e.players.size() + 4 + 4 + 1;
    if (bytes + sz > kStatusChunkBytes && !(chunk.users.empty() && chunk.games.empty())) emit();
    chunk.games.push_back(e);
    bytes += sz;
  }
  if (!sent_any || !chunk.users.empty() || !chunk.games.empty()) emit();
}

void Server::Impl::remove_session(Session& s, std::string_view quit_message, TimePoint now) {
  if (s.state == SessionState::kClosing) return;
  if (s.state == SessionState::kLoggedIn) {
    const std::uint32_t game_id = s.game_id;
    if (s.game_id != 0) leave_game(s, now);
    // Everyone, the quitter included, gets the 0x01 (§5.9); players of its game even while in quiet mode.
    send(s, proto::UserQuit{s.name, s.id, quit_message});
    s.state = SessionState::kClosing;  // not twice through send_lobby
    send_lobby(proto::UserQuit{s.name, s.id, quit_message}, game_id);
    audit(AuditEvent{"logout", {}}
              .num("user_id", s.id)
              .text("name", s.name)
              .text("ip", net::ip_to_string(s.addr.ip))
              .text("reason", quit_message)
              .num("online_s", std::chrono::duration_cast<std::chrono::seconds>(now - s.created).count()));
  }
  by_addr.erase(addr_key(s.local_port, s.addr));
  s.state = SessionState::kClosing;
  closing.push_back(s.id);
}

void Server::Impl::on_global_chat(Session& s, std::string_view text, TimePoint now) {
  if (!text.empty() && text[0] == '/') {
    command(s, text, nullptr, now);
    return;
  }
  s.last_action = now;
  if (text.size() > cfg.max_chat_length) {
    info(s, t("chat.too_long", {{"max", cfg.max_chat_length}}));
    return;
  }
  if (has_control_chars(text)) {
    info(s, t("chat.control"));
    return;
  }
  if (mod.silenced(s.addr.ip, now) && !s.staff()) {
    ++counters.refused_silenced;
    const Sanction* x = mod.silence_of(s.addr.ip, now);
    info(s, x ? t("chat.silenced_for", {{"sanction", sanction_text(*x, now)}}) : t("chat.denied_silenced"));
    return;
  }
  if (chat_flooding(s, now)) return;
  send_lobby_chat(s, proto::GlobalChat{s.name, text});
  if (cfg.audit_chat) {
    audit(AuditEvent{"chat", {}}
              .text("where", "lobby")
              .num("user_id", s.id)
              .text("name", s.name)
              .text("ip", net::ip_to_string(s.addr.ip))
              .text("text", text));
  }
}

bool Server::Impl::chat_flooding(Session& s, TimePoint now) {
  if (!s.exempt() && s.last_chat && now - *s.last_chat < cfg.chat_flood) {
    ++counters.refused_chat_flood;
    info(s, t("chat.flood"));
    return true;
  }
  s.last_chat = now;
  return false;
}

void Server::Impl::on_user_quit(Session& s, std::string_view message, TimePoint now) {
  ++counters.quits;
  std::string msg(message);
  if (trim(msg).empty() || msg.size() > cfg.max_quit_length || has_control_chars(msg)) msg = t("quit.normal");
  remove_session(s, msg, now);
}

}  // namespace kaillera::relay

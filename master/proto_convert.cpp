#include "master/proto_convert.hpp"

#include <set>

#include "common/net/address.hpp"
#include "master/charset.hpp"

namespace kaillera::master {

namespace {

Status bad(std::string message) {
  return Status{Code::kInvalidArgument, std::move(message)};
}

Status raw_text(const std::string& field, const std::string& raw, std::size_t max, bool required,
                std::string& out) {
  if (required && raw.empty()) return bad(field + ": required");
  if (raw.size() > max) {
    return bad(field + ": longer than " + std::to_string(max) + " bytes (" + std::to_string(raw.size()) +
               ")");
  }
  if (raw.find('\0') != std::string::npos) return bad(field + ": must not contain NUL bytes");
  out = raw;
  return Status::Ok();
}

// Printable ASCII or UTF-8 without control characters.
Status plain_text(const std::string& field, const std::string& v, std::size_t max, std::string& out) {
  if (v.size() > max) {
    return bad(field + ": longer than " + std::to_string(max) + " bytes (" + std::to_string(v.size()) + ")");
  }
  for (const char c : v) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F)
      return bad(field + ": must not contain control characters");
  }
  if (!is_valid_utf8(v)) return bad(field + ": must be UTF-8");
  out = v;
  return Status::Ok();
}

Status count(const std::string& field, std::uint64_t v, std::int64_t max, std::int64_t& out) {
  if (v > static_cast<std::uint64_t>(max)) {
    return bad(field + ": at most " + std::to_string(max) + " (got " + std::to_string(v) + ")");
  }
  out = static_cast<std::int64_t>(v);
  return Status::Ok();
}

bool host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
}

}  // namespace

Status relay_info_from_proto(const v1::RelayInfo& info, RelayInfoInput& out) {
  if (Status s = raw_text("info.name.raw", info.name().raw(), kMaxNameBytes, true, out.name); !s.ok())
    return s;
  if (Status s = raw_text("info.location.raw", info.location().raw(), kMaxLocationBytes, false, out.location);
      !s.ok()) {
    return s;
  }
  std::string charset = info.charset();
  std::string field = "info.charset";
  if (charset.empty()) {
    charset = info.name().charset();
    field = "info.name.charset";
  }
  if (charset.empty()) charset = std::string(kDefaultCharset);
  if (!charset_known(charset)) return bad(field + ": unknown charset \"" + charset.substr(0, 40) + "\"");
  out.charset = normalize_charset(charset);

  const std::string& host = info.public_host();
  if (host.size() > kMaxHostBytes)
    return bad("info.public_host: longer than " + std::to_string(kMaxHostBytes) + " bytes");
  for (const char c : host) {
    if (!host_char(c)) {
      return bad(
          "info.public_host: must be an IPv4 address or a host name (letters, digits, '.', '-'), got \"" +
          host.substr(0, 64) + "\"");
    }
  }
  out.public_host = host;

  if (info.handshake_port() < 1 || info.handshake_port() > 65535) {
    return bad("info.handshake_port: must be 1..65535 (got " + std::to_string(info.handshake_port()) + ")");
  }
  out.handshake_port = static_cast<int>(info.handshake_port());
  if (info.game_port_first() > 65535) {
    return bad("info.game_port_first: must be 0..65535 (got " + std::to_string(info.game_port_first()) + ")");
  }
  if (info.game_port_last() > 65535) {
    return bad("info.game_port_last: must be 0..65535 (got " + std::to_string(info.game_port_last()) + ")");
  }
  out.game_port_first = static_cast<int>(info.game_port_first());
  out.game_port_last =
      info.game_port_last() == 0 ? out.game_port_first : static_cast<int>(info.game_port_last());
  if (out.game_port_last < out.game_port_first) {
    return bad("info.game_port_last (" + std::to_string(out.game_port_last) +
               ") is below info.game_port_first (" + std::to_string(out.game_port_first) + ")");
  }
  if (Status s = plain_text("info.website", info.website(), kMaxWebsiteBytes, out.website); !s.ok()) return s;
  if (Status s = plain_text("info.version", info.version(), kMaxVersionBytes, out.version); !s.ok()) return s;
  if (Status s = count("info.max_users", info.max_users(), kMaxCount, out.max_users); !s.ok()) return s;
  if (Status s = count("info.max_games", info.max_games(), kMaxCount, out.max_games); !s.ok()) return s;
  return Status::Ok();
}

Status register_from_proto(const v1::RegisterRequest& req, RegisterInput& out) {
  if (!req.has_info()) return bad("info: required");
  if (req.token().size() > 256) return bad("token: longer than 256 bytes");
  out.token = req.token();
  return relay_info_from_proto(req.info(), out.info);
}

Status measurements_from_proto(const google::protobuf::RepeatedPtrField<v1::Measurement>& in,
                               std::string_view field, UnixMillis now,
                               std::vector<store::MeasurementRow>& out) {
  const std::string base(field);
  if (static_cast<std::size_t>(in.size()) > kMaxMeasurements) {
    return bad(base + ": at most " + std::to_string(kMaxMeasurements) + " per message (got " +
               std::to_string(in.size()) + ")");
  }
  out.reserve(out.size() + static_cast<std::size_t>(in.size()));
  for (int i = 0; i < in.size(); ++i) {
    const auto& m = in.Get(i);
    const std::string f = base + "[" + std::to_string(i) + "]";
    if (!net::parse_ipv4(m.address())) {
      return bad(f + ".address: must be an IPv4 address (got \"" + m.address().substr(0, 64) + "\")");
    }
    if (m.hops() > 255) return bad(f + ".hops: at most 255 (got " + std::to_string(m.hops()) + ")");
    if (m.rtt_ms() > 600'000)
      return bad(f + ".rtt_ms: at most 600000 (got " + std::to_string(m.rtt_ms()) + ")");
    if (!v1::Measurement::Source_IsValid(m.source())) {
      return bad(f + ".source: unknown value " + std::to_string(m.source()));
    }
    if (m.measured_unix_ms() < 0) {
      return bad(f + ".measured_unix_ms: must not be negative (got " + std::to_string(m.measured_unix_ms()) +
                 ")");
    }
    store::MeasurementRow row;
    row.player_address = m.address();
    row.hops = m.has_hops() ? static_cast<std::int64_t>(m.hops()) : -1;
    row.rtt_ms = m.rtt_ms() > 0 ? static_cast<std::int64_t>(m.rtt_ms()) : -1;
    row.source = m.source();
    // 0 (unknown) or a relay clock running ahead: the master's time.
    row.measured_unix_ms =
        m.measured_unix_ms() == 0 || m.measured_unix_ms() > now ? now : m.measured_unix_ms();
    out.push_back(std::move(row));
  }
  return Status::Ok();
}

namespace {
// The playing games with their lag: each figure within the one it is part of (a relay never reports more lost
// time than the window, nor one player's share above the game's).
Status playing_from_proto(const v1::LoadReport& report, std::vector<store::PlayingRow>& out) {
  if (static_cast<std::size_t>(report.playing_size()) > kMaxWaitingGames) {
    return bad("report.playing: at most " + std::to_string(kMaxWaitingGames) + " games (got " +
               std::to_string(report.playing_size()) + ")");
  }
  std::set<std::uint32_t> ids;
  out.reserve(static_cast<std::size_t>(report.playing_size()));
  for (int i = 0; i < report.playing_size(); ++i) {
    const auto& p = report.playing(i);
    const std::string f = "report.playing[" + std::to_string(i) + "]";
    store::PlayingRow g;
    g.game_id = p.game_id();
    if (!ids.insert(p.game_id()).second) {
      return bad(f + ".game_id: " + std::to_string(p.game_id()) + " appears twice");
    }
    if (Status s = raw_text(f + ".rom.raw", p.rom().raw(), kMaxGameTextBytes, true, g.rom); !s.ok()) return s;
    if (Status s = raw_text(f + ".emulator.raw", p.emulator().raw(), kMaxGameTextBytes, false, g.emulator);
        !s.ok()) {
      return s;
    }
    if (p.players() > 255) return bad(f + ".players: at most 255 (got " + std::to_string(p.players()) + ")");
    if (p.window_ms() > kMaxLagWindowMs) {
      return bad(f + ".window_ms: at most " + std::to_string(kMaxLagWindowMs) + " (got " +
                 std::to_string(p.window_ms()) + ")");
    }
    if (p.wait_ms() > p.window_ms()) {
      return bad(f + ".wait_ms (" + std::to_string(p.wait_ms()) + ") exceeds window_ms (" +
                 std::to_string(p.window_ms()) + ")");
    }
    if (p.worst_player_wait_ms() > p.wait_ms()) {
      return bad(f + ".worst_player_wait_ms (" + std::to_string(p.worst_player_wait_ms()) +
                 ") exceeds wait_ms (" + std::to_string(p.wait_ms()) + ")");
    }
    g.players = p.players();
    g.window_ms = p.window_ms();
    g.wait_ms = p.wait_ms();
    g.worst_wait_ms = p.worst_player_wait_ms();
    out.push_back(std::move(g));
  }
  return Status::Ok();
}
}  // namespace

Status report_from_proto(const v1::LoadReport& report, UnixMillis now, ReportInput& out) {
  if (Status s = count("report.users", report.users(), kMaxCount, out.users); !s.ok()) return s;
  if (Status s = count("report.games", report.games(), kMaxCount, out.games); !s.ok()) return s;
  if (Status s = count("report.playing_games", report.playing_games(), kMaxCount, out.playing_games);
      !s.ok()) {
    return s;
  }
  if (out.playing_games > out.games) {
    return bad("report.playing_games (" + std::to_string(out.playing_games) + ") exceeds report.games (" +
               std::to_string(out.games) + ")");
  }
  if (static_cast<std::size_t>(report.waiting_size()) > kMaxWaitingGames) {
    return bad("report.waiting: at most " + std::to_string(kMaxWaitingGames) + " games (got " +
               std::to_string(report.waiting_size()) + ")");
  }
  std::set<std::uint32_t> ids;
  out.waiting.reserve(static_cast<std::size_t>(report.waiting_size()));
  for (int i = 0; i < report.waiting_size(); ++i) {
    const auto& w = report.waiting(i);
    const std::string f = "report.waiting[" + std::to_string(i) + "]";
    store::GameRow g;
    g.game_id = w.game_id();
    if (!ids.insert(w.game_id()).second) {
      return bad(f + ".game_id: " + std::to_string(w.game_id()) + " appears twice");
    }
    if (Status s = raw_text(f + ".rom.raw", w.rom().raw(), kMaxGameTextBytes, true, g.rom); !s.ok()) return s;
    if (Status s = raw_text(f + ".owner.raw", w.owner().raw(), kMaxGameTextBytes, false, g.owner); !s.ok())
      return s;
    if (Status s = raw_text(f + ".emulator.raw", w.emulator().raw(), kMaxGameTextBytes, false, g.emulator);
        !s.ok()) {
      return s;
    }
    if (w.players() > 255) return bad(f + ".players: at most 255 (got " + std::to_string(w.players()) + ")");
    if (w.max_players() > 255) {
      return bad(f + ".max_players: at most 255 (got " + std::to_string(w.max_players()) + ")");
    }
    g.players = w.players();
    g.max_players = w.max_players();
    out.waiting.push_back(std::move(g));
  }
  if (Status s = playing_from_proto(report, out.playing); !s.ok()) return s;
  return measurements_from_proto(report.measurements(), "report.measurements", now, out.measurements);
}

void to_proto(const Text& t, v1::RawText& out) {
  out.set_raw(t.raw);
  out.set_charset(t.charset);
  out.set_text(t.utf8);
}

void to_proto(const ListedServer& s, v1::Relay& out) {
  out.set_relay_id(s.id);
  auto* info = out.mutable_info();
  to_proto(s.name, *info->mutable_name());
  info->set_public_host(s.host);
  info->set_handshake_port(static_cast<std::uint32_t>(s.port));
  info->set_game_port_first(static_cast<std::uint32_t>(s.game_port_first));
  info->set_game_port_last(static_cast<std::uint32_t>(s.game_port_last));
  to_proto(s.location, *info->mutable_location());
  info->set_website(s.website.utf8);
  info->set_version(s.version.utf8);
  info->set_max_users(static_cast<std::uint32_t>(s.max_users));
  info->set_max_games(static_cast<std::uint32_t>(s.max_games));
  info->set_charset(s.name.charset);
  out.set_online(s.online);
  out.set_users(static_cast<std::uint32_t>(s.users));
  out.set_games(static_cast<std::uint32_t>(s.games));
  out.set_playing_games(static_cast<std::uint32_t>(s.playing_games));
  out.set_last_report_unix_ms(s.last_report_unix_ms);
  out.set_external(s.external);
}

void to_proto(const Snapshot& snap, const ListedGame& g, v1::ListedGame& out) {
  const ListedServer& s = snap.servers[g.server];
  auto* game = out.mutable_game();
  game->set_game_id(static_cast<std::uint32_t>(g.game_id));
  to_proto(g.rom, *game->mutable_rom());
  to_proto(g.owner, *game->mutable_owner());
  to_proto(g.emulator, *game->mutable_emulator());
  game->set_players(static_cast<std::uint32_t>(g.players));
  game->set_max_players(static_cast<std::uint32_t>(g.max_players));
  out.set_relay_id(s.id);
  to_proto(s.name, *out.mutable_relay_name());
  out.set_relay_host(s.host);
  out.set_relay_port(static_cast<std::uint32_t>(s.port));
  to_proto(s.location, *out.mutable_location());
}

}  // namespace kaillera::master

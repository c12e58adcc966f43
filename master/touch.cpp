#include "master/touch.hpp"

#include <charconv>

namespace kaillera::master {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string shown(std::string_view s) {
  std::string out;
  for (const char c : s.substr(0, 40)) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b >= 0x7F) {
      static constexpr char kDigits[] = "0123456789abcdef";
      out += "\\x";
      out += kDigits[b >> 4];
      out += kDigits[b & 15];
    } else {
      out += c;
    }
  }
  if (s.size() > 40) out += "...";
  return out;
}

std::optional<std::int64_t> parse_int(std::string_view s, std::int64_t min, std::int64_t max) {
  while (!s.empty() && s.front() == ' ')
    s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ')
    s.remove_suffix(1);
  std::int64_t v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || v < min || v > max) return std::nullopt;
  return v;
}

Status bad(std::string message) {
  return Status{Code::kInvalidArgument, std::move(message)};
}

// A text parameter: absent = "", else at most `max` bytes and no NUL.
Status text_param(const Query& q, std::string_view key, std::size_t max, bool required, std::string& out) {
  const std::string* v = q.get(key);
  if (v == nullptr || v->empty()) {
    if (required) return bad(std::string(key) + ": required");
    out.clear();
    return Status::Ok();
  }
  if (v->size() > max) {
    return bad(std::string(key) + ": at most " + std::to_string(max) + " bytes (got " +
               std::to_string(v->size()) + ")");
  }
  if (v->find('\0') != std::string::npos) return bad(std::string(key) + ": must not contain NUL bytes");
  out = *v;
  return Status::Ok();
}

Status count_param(const Query& q, std::string_view key, std::int64_t& out) {
  const std::string* v = q.get(key);
  if (v == nullptr || v->empty()) {
    out = 0;
    return Status::Ok();
  }
  const auto n = parse_int(*v, 0, kMaxCount);
  if (!n) {
    return bad(std::string(key) + ": must be an integer 0.." + std::to_string(kMaxCount) + " (got \"" +
               shown(*v) + "\")");
  }
  out = *n;
  return Status::Ok();
}

Status game_text(std::string_view header, std::size_t index, std::string_view what, std::string_view v,
                 std::string& out) {
  if (v.size() > kMaxGameTextBytes) {
    return bad(std::string(header) + ": game " + std::to_string(index + 1) + ": " + std::string(what) +
               " longer than " + std::to_string(kMaxGameTextBytes) + " bytes");
  }
  out = std::string(v);
  return Status::Ok();
}

// "<players>" or "<players>/<max>".
Status players_field(std::string_view header, std::size_t index, std::string_view v, store::GameRow& g) {
  const auto slash = v.find('/');
  const auto players = parse_int(v.substr(0, slash), 0, 255);
  std::optional<std::int64_t> max = 0;
  if (slash != std::string_view::npos) max = parse_int(v.substr(slash + 1), 0, 255);
  if (!players || !max) {
    return bad(std::string(header) + ": game " + std::to_string(index + 1) +
               ": players must be \"N\" or \"N/M\" (got \"" + shown(v) + "\")");
  }
  g.players = *players;
  g.max_players = *max;
  return Status::Ok();
}

// Splits "a|b|c|" into {a, b, c}; the last '|' is optional.
std::vector<std::string_view> split_fields(std::string_view s) {
  std::vector<std::string_view> out;
  while (!s.empty()) {
    const auto bar = s.find('|');
    out.push_back(s.substr(0, bar));
    if (bar == std::string_view::npos) break;
    s.remove_prefix(bar + 1);
  }
  return out;
}

Status parse_games(std::string_view protocol, std::string_view header_value,
                   std::vector<store::GameRow>& out) {
  const bool kaillera = protocol == store::kProtocolTouchServer;
  const std::string_view header = kaillera ? "Kaillera-wgames" : "Waiting-games";
  const std::size_t per_game = kaillera ? 5 : 4;
  const std::string_view layout =
      kaillera ? "<id>|<rom>|<owner>|<emulator>|<players>|" : "<rom>|<owner>|<emulator>|<players>/<max>|";
  while (!header_value.empty() && (header_value.back() == ' ' || header_value.back() == '\t'))
    header_value.remove_suffix(1);
  const auto fields = split_fields(header_value);
  if (fields.size() % per_game != 0) {
    return bad(std::string(header) + ": expected " + std::to_string(per_game) +
               " '|'-separated fields per game (" + std::string(layout) + "), got " +
               std::to_string(fields.size()) + " fields");
  }
  const std::size_t games = fields.size() / per_game;
  if (games > kMaxWaitingGames) {
    return bad(std::string(header) + ": at most " + std::to_string(kMaxWaitingGames) + " games");
  }
  for (std::size_t i = 0; i < games; ++i) {
    const auto* f = &fields[i * per_game];
    store::GameRow g;
    if (kaillera) {
      const auto id = parse_int(f[0], 0, 0xFFFFFFFFll);
      if (!id) {
        return bad(std::string(header) + ": game " + std::to_string(i + 1) +
                   ": id must be an integer (got \"" + shown(f[0]) + "\")");
      }
      g.game_id = *id;
      ++f;
    } else {
      g.game_id = static_cast<std::int64_t>(i + 1);
    }
    if (Status s = game_text(header, i, "rom", f[0], g.rom); !s.ok()) return s;
    if (Status s = game_text(header, i, "owner", f[1], g.owner); !s.ok()) return s;
    if (Status s = game_text(header, i, "emulator", f[2], g.emulator); !s.ok()) return s;
    if (Status s = players_field(header, i, f[3], g); !s.ok()) return s;
    out.push_back(std::move(g));
  }
  return Status::Ok();
}

}  // namespace

const std::string* Query::get(std::string_view key) const {
  for (const auto& p : params) {
    if (iequals(p.key, key)) return &p.value;
  }
  return nullptr;
}

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = hex(s[i + 1]);
      const int lo = hex(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

std::string parse_query(std::string_view query, Query& out) {
  out.params.clear();
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view piece = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (piece.empty()) continue;
    const auto eq = piece.find('=');
    const std::string_view raw_key = piece.substr(0, eq);
    const std::string_view raw_value =
        eq == std::string_view::npos ? std::string_view() : piece.substr(eq + 1);
    auto key = percent_decode(raw_key);
    if (!key) return "bad percent-encoding in a query parameter name (\"" + shown(raw_key) + "\")";
    auto value = percent_decode(raw_value);
    if (!value) return "bad percent-encoding in query parameter \"" + shown(*key) + "\"";
    if (key->empty()) return "a query parameter has an empty name";
    if (out.params.size() >= kMaxQueryParams) {
      return "too many query parameters (at most " + std::to_string(kMaxQueryParams) + ")";
    }
    out.params.push_back(QueryParam{std::move(*key), std::move(*value)});
  }
  return {};
}

std::optional<bool> parse_flag(std::string_view s) {
  if (s.empty() || s == "1" || iequals(s, "true") || iequals(s, "yes")) return true;
  if (s == "0" || iequals(s, "false") || iequals(s, "no")) return false;
  return std::nullopt;
}

TouchParse parse_touch(std::string_view protocol, const Query& q, std::string_view games_header,
                       std::uint32_t source_ip) {
  TouchParse r;
  TouchInput& in = r.input;
  in.protocol = std::string(protocol);
  const bool kaillera = protocol == store::kProtocolTouchServer;

  const std::string* port = q.get("port");
  if (port == nullptr || port->empty()) {
    r.status = bad("port: required");
    return r;
  }
  const auto p = parse_int(*port, 1, 65535);
  if (!p) {
    r.status = bad("port: must be an integer 1..65535 (got \"" + shown(*port) + "\")");
    return r;
  }
  in.address = net::Endpoint{source_ip, static_cast<std::uint16_t>(*p)};

  const auto check = [&](Status s) {
    if (!s.ok() && r.status.ok()) r.status = std::move(s);
    return r.status.ok();
  };
  if (kaillera) {
    check(text_param(q, "servername", kMaxNameBytes, true, in.name)) &&
        check(text_param(q, "location", kMaxLocationBytes, false, in.location)) &&
        check(text_param(q, "url", kMaxWebsiteBytes, false, in.website)) &&
        check(text_param(q, "version", kMaxVersionBytes, false, in.version)) &&
        check(count_param(q, "nbusers", in.users)) && check(count_param(q, "maxconn", in.max_users)) &&
        check(count_param(q, "nbgames", in.games));
  } else {
    check(text_param(q, "serverName", kMaxNameBytes, true, in.name)) &&
        check(text_param(q, "location", kMaxLocationBytes, false, in.location)) &&
        check(text_param(q, "website", kMaxWebsiteBytes, false, in.website)) &&
        check(text_param(q, "version", kMaxVersionBytes, false, in.version)) &&
        check(count_param(q, "numUsers", in.users)) && check(count_param(q, "maxUsers", in.max_users)) &&
        check(count_param(q, "numGames", in.games)) && check(count_param(q, "maxGames", in.max_games));
  }
  if (!r.status.ok()) return r;
  r.status = parse_games(protocol, games_header, in.waiting);
  return r;
}

}  // namespace kaillera::master

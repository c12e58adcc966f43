#include "master/mirror_parse.hpp"

#include <algorithm>
#include <charconv>

#include <nlohmann/json.hpp>

#include "master/charset.hpp"

namespace kaillera::master {

namespace {

// The same bounds the Catalog puts on relays and touch requests (catalog.hpp).
constexpr std::size_t kNameBytes = 128;
constexpr std::size_t kLocationBytes = 128;
constexpr std::size_t kWebsiteBytes = 256;
constexpr std::size_t kVersionBytes = 64;
constexpr std::size_t kHostBytes = 253;
constexpr std::size_t kGameTextBytes = 128;
constexpr std::int64_t kCountMax = 1'000'000;
constexpr int kMaxJsonDepth = 32;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c); });
  return out;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    const auto i = s.find(sep);
    out.push_back(s.substr(0, i));
    if (i == std::string_view::npos) break;
    s.remove_prefix(i + 1);
  }
  return out;
}

std::optional<std::int64_t> count(std::string_view s) {
  s = trim(s);
  if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  std::int64_t v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v > kCountMax) return std::nullopt;
  return v;
}

// "n/m" or "n" (m = 0: unknown).
bool pair_count(std::string_view s, std::int64_t& n, std::int64_t& m) {
  const auto slash = s.find('/');
  const auto a = count(s.substr(0, slash));
  if (!a) return false;
  std::int64_t b = 0;
  if (slash != std::string_view::npos) {
    const auto parsed = count(s.substr(slash + 1));
    if (!parsed) return false;
    b = *parsed;
  }
  n = *a;
  m = b;
  return true;
}

bool valid_host(std::string_view h) {
  return !h.empty() && h.size() <= kHostBytes && std::all_of(h.begin(), h.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
  });
}

std::optional<int> port_number(std::string_view s) {
  const auto v = count(s);
  if (!v || *v < 1 || *v > 65535 || trim(s).size() != s.size()) return std::nullopt;
  return static_cast<int>(*v);
}

// "host:port" -> host, port.
bool address(std::string_view s, std::string& host, int& port) {
  s = trim(s);
  const auto colon = s.rfind(':');
  if (colon == std::string_view::npos) return false;
  const auto h = s.substr(0, colon);
  const auto p = port_number(s.substr(colon + 1));
  if (!valid_host(h) || !p) return false;
  host = std::string(h);
  port = *p;
  return true;
}

bool text_ok(std::string_view s, std::size_t max) {
  return s.size() <= max && s.find('\0') == std::string_view::npos;
}

// A line that has the shape of a two-line format's data line: "host:port;...;..." (the first field has a
// colon and no space, and there are at least three fields).
bool data_shaped(std::string_view line) {
  const auto semi = line.find(';');
  if (semi == std::string_view::npos) return false;
  const auto first = line.substr(0, semi);
  return first.find(':') != std::string_view::npos && first.find(' ') == std::string_view::npos &&
         std::count(line.begin(), line.end(), ';') >= 2;
}

bool parse_data_line(std::string_view name, std::string_view line, MirrorServer& out) {
  if (!text_ok(name, kNameBytes)) return false;
  const auto f = split(line, ';');
  if (f.size() < 4) return false;
  if (!address(f[0], out.host, out.port)) return false;
  if (!pair_count(f[1], out.users, out.max_users)) return false;
  std::string_view version;
  std::size_t location_at = 0;
  if (f.size() >= 5 && count(f[2])) {
    out.games = *count(f[2]);
    version = f[3];
    location_at = 4;
  } else if (f.size() == 4) {
    version = f[2];
    location_at = 3;
  } else {
    return false;
  }
  // The location is the rest of the line (a list that does not replace ';' in it still reads right).
  const auto location_offset = static_cast<std::size_t>(f[location_at].data() - line.data());
  const std::string_view location = line.substr(location_offset);
  if (!text_ok(version, kVersionBytes) || !text_ok(location, kLocationBytes)) return false;
  out.name = std::string(name);
  out.version = std::string(version);
  out.location = std::string(location);
  return true;
}

std::vector<std::string_view> lines_of(std::string_view body) {
  std::vector<std::string_view> out = split(body, '\n');
  for (auto& l : out) {
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
  }
  return out;
}

bool players_shaped(std::string_view s) {
  std::int64_t n = 0, m = 0;
  return pair_count(s, n, m);
}

// ---- JSON

// Deeper nesting than any list needs is refused before nlohmann builds it.
bool shallow(std::string_view body) {
  int depth = 0;
  bool in_string = false, escape = false;
  for (const char c : body) {
    if (in_string) {
      if (escape) {
        escape = false;
      } else if (c == '\\') {
        escape = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

using nlohmann::json;

// A text value: absent or null = "", a string, or a number written out. nullopt: another type.
std::optional<std::string> json_text(const json& o, const char* key) {
  const auto it = o.find(key);
  if (it == o.end() || it->is_null()) return std::string();
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number()) return it->dump();
  return std::nullopt;
}

// A count: absent or null = 0, a non-negative integer, or a string of digits.
std::optional<std::int64_t> json_count(const json& o, const char* key) {
  const auto it = o.find(key);
  if (it == o.end() || it->is_null()) return 0;
  if (it->is_number_unsigned()) {
    const auto v = it->get<std::uint64_t>();
    if (v > static_cast<std::uint64_t>(kCountMax)) return std::nullopt;
    return static_cast<std::int64_t>(v);
  }
  if (it->is_number_integer()) {
    const auto v = it->get<std::int64_t>();
    if (v < 0 || v > kCountMax) return std::nullopt;
    return v;
  }
  if (it->is_string()) {
    const auto& s = it->get_ref<const std::string&>();
    if (s.empty()) return 0;
    return count(s);
  }
  return std::nullopt;
}

bool json_address(const json& o, std::string& host, int& port) {
  const auto ip = json_text(o, "ipAddress");
  if (!ip || ip->empty()) return false;
  if (address(*ip, host, port)) return true;
  // An address without ":port", with the port in a key of its own.
  const auto p = json_count(o, "port");
  if (!p || *p < 1 || *p > 65535 || !valid_host(trim(*ip))) return false;
  host = std::string(trim(*ip));
  port = static_cast<int>(*p);
  return true;
}

bool json_server(const json& o, MirrorServer& s) {
  const auto name = json_text(o, "serverName");
  const auto location = json_text(o, "location");
  const auto website = json_text(o, "website");
  const auto version = json_text(o, "version");
  const auto users = json_count(o, "numUsers");
  const auto max_users = json_count(o, "maxUsers");
  const auto games = json_count(o, "numGames");
  const auto max_games = json_count(o, "maxGames");
  if (!name || !location || !website || !version || !users || !max_users || !games || !max_games)
    return false;
  if (!text_ok(*name, kNameBytes) || !text_ok(*location, kLocationBytes) ||
      !text_ok(*website, kWebsiteBytes) || !text_ok(*version, kVersionBytes)) {
    return false;
  }
  if (!json_address(o, s.host, s.port)) return false;
  s.name = *name;
  s.location = *location;
  s.website = *website;
  s.version = *version;
  s.users = *users;
  s.max_users = *max_users;
  s.games = *games;
  s.max_games = *max_games;
  return true;
}

bool json_game(const json& o, MirrorGame& g) {
  const auto rom = json_text(o, "gameName");
  const auto emulator = json_text(o, "emulatorName");
  const auto owner = json_text(o, "userName");
  const auto players = json_text(o, "playerCount");
  const auto server = json_text(o, "serverName");
  const auto location = json_text(o, "location");
  if (!rom || !emulator || !owner || !players || !server || !location) return false;
  if (rom->empty() || !text_ok(*rom, kGameTextBytes) || !text_ok(*emulator, kGameTextBytes) ||
      !text_ok(*owner, kGameTextBytes) || !text_ok(*server, kNameBytes) ||
      !text_ok(*location, kLocationBytes)) {
    return false;
  }
  if (!pair_count(*players, g.players, g.max_players)) return false;
  if (!json_address(o, g.host, g.port)) return false;
  g.rom = *rom;
  g.emulator = *emulator;
  g.owner = *owner;
  g.server_name = *server;
  g.location = *location;
  return true;
}

}  // namespace

// ---- URLs, formats, charsets
// --------------------------------------------------------------------------------

std::optional<MirrorUrl> parse_mirror_url(std::string_view text, std::string& error) {
  const std::string shown(text.substr(0, 200));
  if (text.size() > 2048) {
    error = "'" + shown + "...' is longer than 2048 bytes";
    return std::nullopt;
  }
  if (text.find_first_of(" \t\r\n") != std::string_view::npos) {
    error = "'" + shown + "' contains white space";
    return std::nullopt;
  }
  const std::string scheme = lower(text.substr(0, text.find("://")));
  if (scheme == "https") {
    error =
        "'" + shown +
        "': https is not supported (this master reads lists over plain HTTP only; give the list's http:// "
        "address)";
    return std::nullopt;
  }
  if (scheme != "http" || text.find("://") == std::string_view::npos) {
    error = "'" + shown + "' is not an http:// URL";
    return std::nullopt;
  }
  MirrorUrl u;
  std::string_view rest = text.substr(7);
  const auto hash = rest.find('#');
  const std::string_view fragment =
      hash == std::string_view::npos ? std::string_view() : rest.substr(hash + 1);
  rest = rest.substr(0, hash);
  u.url = std::string(text.substr(0, 7 + rest.size()));
  const auto slash = rest.find_first_of("/?");
  const std::string_view authority = rest.substr(0, slash);
  u.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (!u.target.empty() && u.target.front() == '?') u.target.insert(0, "/");
  if (authority.find('@') != std::string_view::npos) {
    error = "'" + shown + "': user names or passwords in the URL are not supported";
    return std::nullopt;
  }
  if (authority.find('[') != std::string_view::npos) {
    error = "'" + shown + "': IPv6 addresses are not supported";
    return std::nullopt;
  }
  const auto colon = authority.find(':');
  const std::string_view host = authority.substr(0, colon);
  if (!valid_host(host)) {
    error = "'" + shown + "': bad host '" + std::string(host) + "'";
    return std::nullopt;
  }
  u.host = lower(host);
  if (colon != std::string_view::npos) {
    const auto p = port_number(authority.substr(colon + 1));
    if (!p) {
      error = "'" + shown + "': bad port '" + std::string(authority.substr(colon + 1)) + "'";
      return std::nullopt;
    }
    u.port = static_cast<std::uint16_t>(*p);
  }
  if (!fragment.empty()) {
    for (const auto option : split(fragment, '&')) {
      const auto eq = option.find('=');
      const std::string key = lower(option.substr(0, eq));
      const std::string_view value =
          eq == std::string_view::npos ? std::string_view() : option.substr(eq + 1);
      if (key == "charset") {
        if (!charset_known(value)) {
          error = "'" + shown + "': unknown charset '" + std::string(value) + "'";
          return std::nullopt;
        }
        u.charset = normalize_charset(value);
      } else {
        error = "'" + shown + "': unknown option '" + key + "' after '#' (known: charset)";
        return std::nullopt;
      }
    }
  }
  return u;
}

MirrorFormat detect_format(std::string_view target, std::string_view body) {
  const auto q = target.find('?');
  const std::string path = lower(target.substr(0, q));
  bool wg = false;
  if (q != std::string_view::npos) {
    for (const auto p : split(target.substr(q + 1), '&'))
      wg = wg || lower(p) == "wg=1";
  }
  if (ends_with(path, ".json")) return MirrorFormat::kJson;
  if (ends_with(path, "game_list.php") || wg) return MirrorFormat::kTextGames;
  if (ends_with(path, ".php")) return MirrorFormat::kTextServers;
  const auto first = body.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && (body[first] == '[' || body[first] == '{'))
    return MirrorFormat::kJson;
  return MirrorFormat::kTextServers;
}

std::string content_type_charset(std::string_view content_type) {
  for (auto param : split(content_type, ';')) {
    param = trim(param);
    const auto eq = param.find('=');
    if (eq == std::string_view::npos || lower(trim(param.substr(0, eq))) != "charset") continue;
    std::string_view v = trim(param.substr(eq + 1));
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    return normalize_charset(v);
  }
  return {};
}

std::string choose_charset(std::string_view option, std::string_view content_type, std::string_view body,
                           std::string_view fallback) {
  if (!option.empty()) return normalize_charset(option);
  const std::string declared = content_type_charset(content_type);
  if (!declared.empty() && charset_known(declared)) {
    if (declared != "utf-8" && declared != "utf8") return declared;
    if (is_valid_utf8(body)) return "utf-8";
  }
  return guess_charset(body, normalize_charset(fallback));
}

// ---- the formats
// --------------------------------------------------------------------------------------------

MirrorList parse_server_list_text(std::string_view body, std::string_view charset) {
  MirrorList out;
  out.ok = true;
  out.charset = std::string(charset);
  bool have_name = false;  // a name line waiting for its data line
  std::string_view name;
  for (const auto line : lines_of(body)) {
    if (data_shaped(line)) {
      MirrorServer s;
      if (!have_name || !parse_data_line(name, line, s) || out.servers.size() >= kMaxMirrorServers) {
        ++out.skipped;
      } else {
        out.servers.push_back(std::move(s));
      }
      have_name = false;
      continue;
    }
    // A name line. The one before it never got its data line: count it unless it was a blank line.
    if (have_name && !name.empty()) ++out.skipped;
    have_name = true;
    name = line;
  }
  if (have_name && !name.empty()) ++out.skipped;
  return out;
}

MirrorList parse_game_line(std::string_view body, std::string_view charset) {
  MirrorList out;
  out.ok = true;
  out.charset = std::string(charset);
  for (const auto line : lines_of(body)) {
    if (trim(line).empty()) continue;
    auto f = split(line, '|');
    if (!f.empty() && f.back().empty()) f.pop_back();  // the last field's terminating '|'
    // A game is 7 fields anchored at its address (field 1) and its players (field 4). Fields before an anchor
    // that belong to no game (a name with a '|' in it, a bad address) are one skipped entry.
    std::size_t next = 0;  // first field not yet used
    std::size_t i = 1;
    std::string host;
    int port = 0;
    while (i + 5 < f.size()) {  // fields i-1 .. i+5 exist
      if (address(f[i], host, port) && players_shaped(f[i + 3])) {
        if (i - 1 > next) ++out.skipped;
        MirrorGame g;
        g.host = host;
        g.port = port;
        pair_count(f[i + 3], g.players, g.max_players);
        const std::string_view rom = f[i - 1], owner = f[i + 1], emulator = f[i + 2], server = f[i + 4],
                               location = f[i + 5];
        if (rom.empty() || !text_ok(rom, kGameTextBytes) || !text_ok(owner, kGameTextBytes) ||
            !text_ok(emulator, kGameTextBytes) || !text_ok(server, kNameBytes) ||
            !text_ok(location, kLocationBytes) || out.games.size() >= kMaxMirrorGames) {
          ++out.skipped;
        } else {
          g.rom = std::string(rom);
          g.owner = std::string(owner);
          g.emulator = std::string(emulator);
          g.server_name = std::string(server);
          g.location = std::string(location);
          out.games.push_back(std::move(g));
        }
        next = i + 6;
        i = next + 1;
      } else {
        ++i;
      }
    }
    if (next < f.size()) ++out.skipped;  // a tail that is no whole game
  }
  return out;
}

MirrorList parse_json_list(std::string_view body, std::string_view charset) {
  MirrorList out;
  out.charset = "utf-8";
  std::string text;
  const std::string c = normalize_charset(charset);
  if (c.empty() || c == "utf-8" || c == "utf8") {
    if (!is_valid_utf8(body)) {
      text = to_utf8(body, "utf-8");
      out.error = "the JSON was not valid UTF-8; undecodable bytes were replaced by U+FFFD";
    } else {
      text = std::string(body);
    }
  } else {
    text = to_utf8(body, c);
  }
  if (!shallow(text)) {
    out.error = "JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels";
    return out;
  }
  const json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded()) {
    out.error = "not JSON";
    return out;
  }
  const json* items = &doc;
  if (doc.is_object()) {
    const auto it = doc.find("data");
    if (it == doc.end() || !it->is_array()) {
      out.error = "a JSON object without a \"data\" array";
      return out;
    }
    items = &*it;
  } else if (!doc.is_array()) {
    out.error = "JSON that is neither an array nor {\"data\": [...]}";
    return out;
  }
  out.ok = true;
  for (const auto& item : *items) {
    if (!item.is_object()) {
      ++out.skipped;
      continue;
    }
    if (item.contains("gameName")) {
      MirrorGame g;
      if (json_game(item, g) && out.games.size() < kMaxMirrorGames) {
        out.games.push_back(std::move(g));
      } else {
        ++out.skipped;
      }
    } else {
      MirrorServer s;
      if (json_server(item, s) && out.servers.size() < kMaxMirrorServers) {
        out.servers.push_back(std::move(s));
      } else {
        ++out.skipped;
      }
    }
  }
  return out;
}

MirrorList parse_mirror_response(const MirrorUrl& url, std::string_view content_type, std::string_view body,
                                 std::string_view default_charset) {
  MirrorList out;
  switch (detect_format(url.target, body)) {
    case MirrorFormat::kJson: {
      std::string charset = url.charset;
      if (charset.empty()) {
        const std::string declared = content_type_charset(content_type);
        charset = !declared.empty() && charset_known(declared) ? declared : "utf-8";
      }
      out = parse_json_list(body, charset);
      break;
    }
    case MirrorFormat::kTextGames:
      out = parse_game_line(body, choose_charset(url.charset, content_type, body, default_charset));
      break;
    case MirrorFormat::kTextServers:
      out = parse_server_list_text(body, choose_charset(url.charset, content_type, body, default_charset));
      break;
  }
  if (out.ok && out.servers.empty() && out.games.empty() && out.skipped > 0) {
    out.ok = false;
    out.error = "no entry could be read (" + std::to_string(out.skipped) + " skipped)";
  }
  return out;
}

}  // namespace kaillera::master

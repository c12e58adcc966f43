#include "relay/announce/touch.hpp"

#include <iconv.h>

#include <cerrno>
#include <charconv>

#include "common/text/charset.hpp"

namespace kaillera::relay::announce {
namespace {

constexpr std::string_view kTouchServerFile = "touch_server.php";
constexpr std::string_view kTouchListFile = "touch_list.php";

std::string accepted_forms() {
  return "the path must end in touch_server.php (kaillera.com list) or touch_list.php (Kaillera Reborn "
         "list), e.g. http://www.kaillera.com/touch_server.php or "
         "http://kaillerareborn.2manygames.fr/touch_list.php";
}

std::optional<ListUrl> refuse(std::string* error, std::string_view url, std::string_view why) {
  if (error) *error = "'" + std::string(url) + "' " + std::string(why) + "; " + accepted_forms();
  return std::nullopt;
}

bool unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

void param(std::string& q, std::string_view key, std::string_view raw) {
  if (!q.empty()) q += '&';
  q.append(key).append("=").append(url_encode(raw));
}

void param(std::string& q, std::string_view key, std::uint64_t n) {
  param(q, key, std::to_string(n));
}

}  // namespace

std::string_view kind_name(ListKind kind) {
  return kind == ListKind::kTouchServer ? "touch_server" : "touch_list";
}

std::optional<ListUrl> parse_list_url(std::string_view url, std::string* error) {
  constexpr std::string_view kHttp = "http://";
  if (url.rfind("https://", 0) == 0) {
    return refuse(error, url,
                  "uses https://, which the relay does not speak (the public lists take http://)");
  }
  if (url.rfind(kHttp, 0) != 0) return refuse(error, url, "is not an http:// URL");
  if (url.find_first_of(" \t\r\n#") != std::string_view::npos) {
    return refuse(error, url, "contains a space, a control character or a #fragment");
  }
  std::string_view rest = url.substr(kHttp.size());
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos) return refuse(error, url, "has no path");
  const std::string_view authority = rest.substr(0, slash);
  const std::string_view target = rest.substr(slash);

  ListUrl out;
  out.url = std::string(url);
  if (authority.find('@') != std::string_view::npos) return refuse(error, url, "has a user name in it");
  std::string_view host = authority, port_text;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return refuse(error, url, "has an unclosed [IPv6 address]");
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return refuse(error, url, "has text after its [IPv6 address]");
      port_text = after.substr(1);
    } else {
      port_text = {};
    }
    if (!after.empty() && port_text.empty()) return refuse(error, url, "has an empty port");
  } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port_text = authority.substr(colon + 1);
    if (port_text.empty()) return refuse(error, url, "has an empty port");
  }
  if (host.empty()) return refuse(error, url, "has no host");
  if (!port_text.empty()) {
    unsigned port = 0;
    const auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || p != port_text.data() + port_text.size() || port == 0 || port > 65535) {
      return refuse(error, url, "has a port that is not 1..65535");
    }
    out.port = static_cast<std::uint16_t>(port);
  }
  out.host = std::string(host);

  const std::string_view path = target.substr(0, target.find('?'));
  const std::string_view file = path.substr(path.rfind('/') + 1);
  if (file == kTouchServerFile) {
    out.kind = ListKind::kTouchServer;
  } else if (file == kTouchListFile) {
    out.kind = ListKind::kTouchList;
  } else {
    return refuse(error, url, "is not a list this relay can announce to");
  }
  out.target = std::string(target);
  return out;
}

std::string url_encode(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(bytes.size() * 3);
  for (char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    if (unreserved(c)) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string truncate_chars(std::string_view bytes, std::size_t max_chars, std::string_view charset) {
  std::string from = text::iconv_name(charset);
  if (from.empty()) from = "WINDOWS-1252";
  iconv_t cd = iconv_open("UTF-32LE", from.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) return std::string(bytes.substr(0, max_chars));
  // Converting into room for exactly one UTF-32 code unit moves the input past exactly one character.
  char* src = const_cast<char*>(bytes.data());
  std::size_t left = bytes.size();
  std::size_t chars = 0;
  while (left > 0 && chars < max_chars) {
    char unit[4];
    char* dst = unit;
    std::size_t room = sizeof unit;
    const std::size_t r = iconv(cd, &src, &left, &dst, &room);
    if (dst != unit) {
      ++chars;  // one character decoded (E2BIG stops it there)
      continue;
    }
    if (r == static_cast<std::size_t>(-1) && errno != E2BIG) {
      // EILSEQ, or EINVAL at a sequence cut by the end: that byte counts as one character.
      ++src;
      --left;
      ++chars;
      iconv(cd, nullptr, nullptr, nullptr, nullptr);
      continue;
    }
    if (r != static_cast<std::size_t>(-1)) break;  // a shift sequence only, no character left
  }
  iconv_close(cd);
  return std::string(bytes.substr(0, static_cast<std::size_t>(src - bytes.data())));
}

std::string header_text(std::string_view bytes) {
  std::string out(bytes);
  for (char& ch : out) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7F) ch = ' ';
  }
  return out;
}

std::string kaillera_games(const std::vector<std::string>& started) {
  std::string out;
  for (const auto& rom : started)
    out.append(rom).append("|");
  return header_text(out);
}

std::string kaillera_wgames(const std::vector<WaitingGame>& waiting) {
  std::string out;
  for (const auto& g : waiting) {
    out.append(std::to_string(g.id)).append("|");
    out.append(g.rom).append("|");
    out.append(g.owner).append("|");
    out.append(g.emulator).append("|");
    out.append(std::to_string(g.players)).append("|");
  }
  return header_text(out);
}

std::string waiting_games(const std::vector<WaitingGame>& waiting) {
  std::string out;
  for (const auto& g : waiting) {
    out.append(g.rom).append("|");
    out.append(g.owner).append("|");
    out.append(g.emulator).append("|");
    out.append(std::to_string(g.players)).append("/").append(std::to_string(g.max_players)).append("|");
  }
  return header_text(out);
}

Request build_request(const ListUrl& list, const Identity& id, const Load& load) {
  Request r;
  std::string q;
  if (list.kind == ListKind::kTouchServer) {
    // §7.1, in its order.
    param(q, "servername", id.name);
    param(q, "port", id.port);
    param(q, "nbusers", load.users);
    param(q, "maxconn", id.max_users);
    param(q, "version", truncate_chars(id.version, kTouchServerVersionChars, id.charset));
    param(q, "nbgames", load.games);
    param(q, "location", id.location);
    param(q, "ip", id.public_host);
    param(q, "url", id.website);
    r.headers.emplace_back("Kaillera-games", kaillera_games(load.started));
    r.headers.emplace_back("Kaillera-wgames", kaillera_wgames(load.waiting));
  } else {
    // §7.2, in its order.
    param(q, "serverName", id.name);
    param(q, "ipAddress", id.public_host);
    param(q, "location", id.location);
    param(q, "website", id.website);
    param(q, "port", id.port);
    param(q, "numUsers", load.users);
    param(q, "maxUsers", id.max_users);
    param(q, "numGames", load.games);
    param(q, "maxGames", id.max_games);
    param(q, "version", truncate_chars(id.version, kTouchListVersionChars, id.charset));
    r.headers.emplace_back("Waiting-games", waiting_games(load.waiting));
  }
  r.target = list.target;
  r.target += list.target.find('?') == std::string::npos ? '?' : '&';
  r.target += q;
  return r;
}

}  // namespace kaillera::relay::announce

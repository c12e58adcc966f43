#include "client/directory_client.hpp"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>
#include <string_view>

#include "kaillera/directory/v1/directory.grpc.pb.h"

namespace kaillera::client {

namespace {

namespace v1 = kaillera::directory::v1;

std::string status_text(const grpc::Status& s) {
  return kaillera::client::status_text(static_cast<int>(s.error_code()), s.error_message());
}

std::string seconds_text(std::chrono::milliseconds d) {
  const auto ms = d.count();
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
  return std::to_string(ms) + " ms";
}

char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// Decodes one UTF-8 sequence at s[i] and moves i past it; a malformed or cut sequence is one U+FFFD for one
// byte (the master sends valid UTF-8, this is for safety).
constexpr char32_t kReplacement = 0xFFFD;

char32_t next_code_point(std::string_view s, std::size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  const std::size_t extra = b0 < 0x80             ? 0
                            : (b0 & 0xE0) == 0xC0 ? 1
                            : (b0 & 0xF0) == 0xE0 ? 2
                            : (b0 & 0xF8) == 0xF0 ? 3
                                                  : 4;
  if (extra == 0) {
    ++i;
    return b0;
  }
  if (extra == 4 || i + extra >= s.size()) {
    ++i;
    return kReplacement;
  }
  char32_t cp = b0 & (0x3Fu >> extra);
  for (std::size_t k = 1; k <= extra; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) {
      ++i;
      return kReplacement;
    }
    cp = (cp << 6) | (b & 0x3Fu);
  }
  i += extra + 1;
  return cp;
}

bool wide(char32_t c) {
  return (c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0x303E) || (c >= 0x3041 && c <= 0x33FF) ||
         (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xA000 && c <= 0xA4CF) ||
         (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0xFE30 && c <= 0xFE4F) ||
         (c >= 0xFF00 && c <= 0xFF60) || (c >= 0xFFE0 && c <= 0xFFE6) || (c >= 0x1F300 && c <= 0x1F64F) ||
         (c >= 0x1F900 && c <= 0x1F9FF) || (c >= 0x20000 && c <= 0x3FFFD);
}

bool zero_width(char32_t c) {
  return (c >= 0x0300 && c <= 0x036F) || c == 0x200B || c == 0x200C || c == 0x200D || c == 0xFE0F;
}

void pad(std::string& line, const std::string& cell, std::size_t width) {
  line += cell;
  const std::size_t w = display_width(cell);
  if (w < width) line.append(width - w, ' ');
}

}  // namespace

std::string status_text(int code, const std::string& message) {
  static constexpr std::array<const char*, 17> kNames = {
      "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
      "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
      "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
      "DATA_LOSS", "UNAUTHENTICATED"};
  std::string out = code >= 0 && static_cast<std::size_t>(code) < kNames.size()
                        ? kNames[static_cast<std::size_t>(code)]
                        : "code " + std::to_string(code);
  if (!message.empty()) out += ": " + message;
  return out;
}

std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t start = i;
    const char32_t c = next_code_point(s, i);
    if (c < 0x20 || c == 0x7F || (c >= 0x80 && c < 0xA0)) {
      out.push_back('?');
    } else if (c == kReplacement) {
      out.append("\xEF\xBF\xBD");
    } else {
      out.append(s.substr(start, i - start));
    }
  }
  return out;
}

std::size_t display_width(const std::string& utf8) {
  std::size_t width = 0;
  for (std::size_t i = 0; i < utf8.size();) {
    const char32_t c = next_code_point(utf8, i);
    if (zero_width(c)) continue;
    width += wide(c) ? 2 : 1;
  }
  return width;
}

ListRelaysResult list_relays(const std::string& master, const ListRelaysQuery& query,
                             std::chrono::milliseconds timeout) {
  ListRelaysResult result;
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 * 1024 * 1024);
  const auto channel = grpc::CreateCustomChannel(master, grpc::InsecureChannelCredentials(), args);
  const auto stub = v1::Directory::NewStub(channel);

  v1::ListRelaysRequest req;
  req.set_online_only(query.online_only);
  req.set_has_room(query.has_room);
  req.set_location_contains(query.location_contains);
  v1::ListRelaysResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  const grpc::Status status = stub->ListRelays(&ctx, req, &resp);
  if (!status.ok()) {
    switch (status.error_code()) {
      case grpc::StatusCode::UNAVAILABLE:
        result.error = "cannot reach the master at " + master + " (" + status_text(status) + ")";
        break;
      case grpc::StatusCode::DEADLINE_EXCEEDED:
        result.error = "no answer from the master at " + master + " within " + seconds_text(timeout) +
                       " (is it running, and is that its gRPC address?)";
        break;
      default:
        result.error = "the master at " + master + " refused the list request (" + status_text(status) + ")";
        break;
    }
    return result;
  }
  result.relays.reserve(static_cast<std::size_t>(resp.relays_size()));
  for (const auto& r : resp.relays()) {
    ListedRelay out;
    out.relay_id = r.relay_id();
    out.name = r.info().name().text();
    out.host = r.info().public_host();
    out.port = r.info().handshake_port();
    out.location = r.info().location().text();
    out.website = r.info().website();
    out.version = r.info().version();
    out.users = r.users();
    out.max_users = r.info().max_users();
    out.games = r.games();
    out.playing_games = r.playing_games();
    out.online = r.online();
    out.external = r.external();
    out.last_report_unix_ms = r.last_report_unix_ms();
    result.relays.push_back(std::move(out));
  }
  result.ok = true;
  return result;
}

namespace {

// <0, 0, >0 like strcmp, with ASCII letters folded to lower case.
int compare_folded(const std::string& a, const std::string& b) {
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    const auto x = static_cast<unsigned char>(ascii_lower(a[i]));
    const auto y = static_cast<unsigned char>(ascii_lower(b[i]));
    if (x != y) return x < y ? -1 : 1;
  }
  return a.size() == b.size() ? 0 : a.size() < b.size() ? -1 : 1;
}

}  // namespace

void sort_by_name(std::vector<ListedRelay>& relays) {
  std::stable_sort(relays.begin(), relays.end(), [](const ListedRelay& a, const ListedRelay& b) {
    if (const int c = compare_folded(a.name, b.name); c != 0) return c < 0;
    if (a.name != b.name) return a.name < b.name;
    if (a.host != b.host) return a.host < b.host;
    return a.port < b.port;
  });
}

std::string relays_to_table(const std::vector<ListedRelay>& relays) {
  static const std::array<std::string, 7> kHeader = {"NAME",  "ADDRESS", "LOCATION", "USERS",
                                                     "GAMES", "VERSION", "ONLINE"};
  std::vector<std::array<std::string, 7>> rows;
  rows.reserve(relays.size() + 1);
  rows.push_back(kHeader);
  for (const auto& r : relays) {
    rows.push_back({printable(r.name), printable(r.address()), printable(r.location),
                    std::to_string(r.users) + "/" + (r.max_users == 0 ? "-" : std::to_string(r.max_users)),
                    std::to_string(r.games), printable(r.version),
                    std::string(r.online ? "yes" : "no") + (r.external ? " (external)" : "")});
  }
  std::array<std::size_t, 7> widths{};
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < row.size(); ++c)
      widths[c] = std::max(widths[c], display_width(row[c]));
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t c = 0; c < row.size(); ++c) {
      if (c + 1 == row.size()) {
        line += row[c];
      } else {
        pad(line, row[c], widths[c] + 2);
      }
    }
    out += line + "\n";
  }
  if (relays.empty()) out += "(no relays)\n";
  return out;
}

std::string relays_to_json(const std::vector<ListedRelay>& relays) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : relays) {
    out.push_back({{"name", r.name},
                   {"address", r.address()},
                   {"host", r.host},
                   {"port", r.port},
                   {"location", r.location},
                   {"users", r.users},
                   {"max_users", r.max_users},
                   {"games", r.games},
                   {"playing_games", r.playing_games},
                   {"version", r.version},
                   {"website", r.website},
                   {"online", r.online},
                   {"external", r.external},
                   {"relay_id", r.relay_id},
                   {"last_report_unix_ms", r.last_report_unix_ms}});
  }
  return out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace kaillera::client

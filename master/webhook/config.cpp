#include "master/webhook/config.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <iterator>
#include <set>

namespace kaillera::master::webhook {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string_view to_string(Format f) {
  switch (f) {
    case Format::kDiscord:
      return "discord";
    case Format::kSlack:
      return "slack";
    case Format::kJson:
      return "json";
  }
  return "json";
}

std::optional<Format> parse_format(std::string_view s) {
  for (Format f : {Format::kDiscord, Format::kSlack, Format::kJson})
    if (s == to_string(f)) return f;
  return std::nullopt;
}

std::string_view to_string(EventType e) {
  switch (e) {
    case EventType::kGameOpened:
      return "game_opened";
    case EventType::kGameStarted:
      return "game_started";
    case EventType::kRelayOnline:
      return "relay_online";
    case EventType::kRelayOffline:
      return "relay_offline";
  }
  return "game_opened";
}

std::optional<EventType> parse_event(std::string_view s) {
  for (EventType e :
       {EventType::kGameOpened, EventType::kGameStarted, EventType::kRelayOnline, EventType::kRelayOffline})
    if (s == to_string(e)) return e;
  return std::nullopt;
}

std::string Url::shown() const {
  return std::string(tls ? "https://" : "http://") + host + ":" + std::to_string(port);
}

std::optional<Url> parse_url(std::string_view text, std::string& problem) {
  // The path may hold a secret (Discord's and Slack's tokens): messages show the scheme and host only.
  const auto scheme_end = text.find("://");
  const std::string scheme = scheme_end == std::string_view::npos ? "" : lower(text.substr(0, scheme_end));
  if (scheme != "http" && scheme != "https") {
    problem = "must be an http:// or https:// URL";
    return std::nullopt;
  }
  if (text.size() > 2048) {
    problem = "is longer than 2048 bytes";
    return std::nullopt;
  }
  for (const char c : text) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7F) {
      problem = "contains white space or control characters";
      return std::nullopt;
    }
  }
  Url u;
  u.tls = scheme == "https";
  std::string_view rest = text.substr(scheme_end + 3);
  rest = rest.substr(0, rest.find('#'));
  const auto slash = rest.find_first_of("/?");
  const std::string_view authority = rest.substr(0, slash);
  u.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (u.target.front() == '?') u.target.insert(0, "/");
  if (authority.find('@') != std::string_view::npos) {
    problem = "must not hold a user name or password";
    return std::nullopt;
  }
  if (authority.find('[') != std::string_view::npos) {
    problem = "IPv6 addresses are not supported (give a host name)";
    return std::nullopt;
  }
  const auto colon = authority.find(':');
  u.host = lower(authority.substr(0, colon));
  u.port = u.tls ? 443 : 80;
  if (colon != std::string_view::npos) {
    const std::string_view p = authority.substr(colon + 1);
    unsigned v = 0;
    const auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
    if (p.empty() || ec != std::errc() || end != p.data() + p.size() || v == 0 || v > 65535) {
      problem = "has a bad port (" + scheme + "://" + u.host + ":" + std::string(p.substr(0, 10)) + ")";
      return std::nullopt;
    }
    u.port = static_cast<std::uint16_t>(v);
  }
  if (u.host.empty() || u.host.size() > 253 ||
      u.host.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.-_") != std::string::npos) {
    problem = "has no valid host name (" + scheme + "://" + u.host.substr(0, 60) + ")";
    return std::nullopt;
  }
  return u;
}

bool WebhookConfig::wants(EventType e) const {
  return std::find(events.begin(), events.end(), e) != events.end();
}

std::string check_webhooks(const std::vector<WebhookConfig>& hooks) {
  std::set<std::string> names;
  for (std::size_t i = 0; i < hooks.size(); ++i) {
    const auto& h = hooks[i];
    const std::string at = "webhook[" + std::to_string(i + 1) + "]";
    if (h.url.empty()) return at + ".url: missing (every [[webhook]] needs a url)";
    std::string problem;
    if (!parse_url(h.url, problem)) return at + ".url: " + problem;
    if (h.name.empty()) return at + ".name: must not be empty";
    if (!names.insert(h.name).second) return at + ".name: '" + h.name + "' names two webhooks";
    if (h.events.empty()) return at + ".events: must name at least one event";
    if (!h.ca_file.empty()) {
      std::ifstream in(h.ca_file, std::ios::binary);
      if (!in) return at + ".ca_file: cannot read '" + h.ca_file + "'";
      const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (text.find("-----BEGIN CERTIFICATE-----") == std::string::npos)
        return at + ".ca_file: '" + h.ca_file + "' holds no PEM certificate";
    }
  }
  return {};
}

}  // namespace kaillera::master::webhook

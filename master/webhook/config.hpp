// The `[[webhook]]` entries of master.toml (issue 17): where the master announces waiting games (and, for
// operators, relays coming and going), in which shape, for which relays and games, and how it delivers them.
// A plain struct with defaults; config_toml.hpp reads it from TOML, check_webhooks() checks it once at
// start-up. Pure: no TOML, no sockets here, so settings.hpp can hold it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kaillera::master::webhook {

enum class Format {
  kDiscord,  // Discord's execute-webhook JSON: content + one embed, mentions disabled
  kSlack,    // Slack's incoming-webhook JSON: text + a section block (mrkdwn)
  kJson,     // our own event object (payload.hpp)
};
std::string_view to_string(Format f);
std::optional<Format> parse_format(std::string_view s);

enum class EventType {
  kGameOpened,    // a waiting game passed the debounce and the filters
  kGameStarted,   // an announced game filled every seat, or left the waiting list while playing games rose
  kRelayOnline,   // a listed relay started reporting (again)
  kRelayOffline,  // a listed relay missed its reports and left the list's online servers
};
std::string_view to_string(EventType e);
std::optional<EventType> parse_event(std::string_view s);

// http://HOST[:PORT]/PATH or https://...; no user info, no IPv6 literals, no fragment.
struct Url {
  bool tls = false;
  std::string host;  // lower-case
  std::uint16_t port = 0;
  std::string target;  // "/path?query" (may hold the webhook's secret: never logged)
  // scheme://host:port only: what logs show (Discord and Slack put the secret in the path).
  std::string shown() const;
};
std::optional<Url> parse_url(std::string_view text, std::string& problem);

struct Filter {
  std::vector<std::string> relays;     // a relay's name (UTF-8, case-insensitive, whole) or its id; [] = all
  std::vector<std::string> locations;  // parts of a relay's location (case-insensitive); [] = all
  std::vector<std::string> games;      // patterns of game names: '*' any run, '?' one character; [] = all
  int min_players = 1;                 // a game is announced once it has this many players
  bool external = false;               // also third-party and mirrored servers
};

struct WebhookConfig {
  std::string name;  // label in /metrics and logs; default "webhook-N" (N from 1, in file order)
  std::string url;
  Format format = Format::kJson;
  std::vector<EventType> events{EventType::kGameOpened};
  Filter filter;
  std::int64_t debounce_ms = 15'000;  // a game is announced once it has been waiting this long
  std::int64_t timeout_ms = 10'000;   // one whole delivery: resolve, connect, TLS, request, response
  int max_attempts = 5;               // deliveries of one message before it is given up
  std::int64_t retry_ms = 2'000;      // first retry after this, doubled each time (at most 10 minutes)
  int rate_per_minute = 20;           // deliveries per minute (a burst of up to this many, then spread)
  int queue_max = 100;                // messages waiting; more are dropped (and counted)
  std::string ca_file;                // PEM with extra CAs to trust for https, besides the system's

  bool wants(EventType e) const;
};

// "" or the first problem, naming the entry and key ("webhook[2].url: ...").
std::string check_webhooks(const std::vector<WebhookConfig>& hooks);

}  // namespace kaillera::master::webhook

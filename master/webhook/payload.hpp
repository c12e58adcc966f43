// The body a webhook receives for an event (announce.hpp), in its format (config.hpp). Pure.
//
// - discord: {"content", "embeds": [{"title", "description", "color", "fields", "timestamp"}],
//   "allowed_mentions": {"parse": []}}. Names are escaped for Discord's markdown and no mention ever pings
//   (a game named "@everyone" stays text).
// - slack: {"text", "blocks": [section (mrkdwn), context]}, with &, < and > escaped as Slack asks.
// - json: {"event", "at_unix_ms", "relay": {...}, "game": {...}|null, "reason", "waiting_since_unix_ms"}.
#pragma once

#include <string>
#include <string_view>

#include "master/webhook/announce.hpp"
#include "master/webhook/config.hpp"

namespace kaillera::master::webhook {

// One line for people: "Street Fighter II — waiting for players on Relay Tokyo".
std::string headline(const Event& e);

// `text` with Discord's markdown characters escaped (and line breaks turned into spaces).
std::string discord_escape(std::string_view text);
// `text` with Slack's control characters (&, <, >) escaped (and line breaks turned into spaces).
std::string slack_escape(std::string_view text);
// "2026-12-03T17:20:00.123Z"
std::string iso8601(UnixMillis t);

std::string format_payload(Format format, const Event& e);

}  // namespace kaillera::master::webhook

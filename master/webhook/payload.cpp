#include "master/webhook/payload.hpp"

#include <cstdio>

#include <nlohmann/json.hpp>

namespace kaillera::master::webhook {

namespace {

using nlohmann::json;

std::string one_line(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text)
    out += (c == '\r' || c == '\n' || c == '\t') ? ' ' : c;
  return out;
}

std::string players_text(const GameView& g) {
  return std::to_string(g.players) + "/" + (g.max_players > 0 ? std::to_string(g.max_players) : "?");
}

// The relay as people know it: its name, and where it is when it says so.
std::string relay_text(const RelayView& r) {
  return r.name.empty() ? r.address : r.name;
}

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

int color(const Event& e) {
  switch (e.type) {
    case EventType::kGameOpened:
      return 0x2ECC71;  // green
    case EventType::kGameStarted:
      return 0x3498DB;  // blue
    case EventType::kRelayOnline:
      return 0x95A5A6;  // grey
    case EventType::kRelayOffline:
      return 0xE74C3C;  // red
  }
  return 0;
}

// (label, value) pairs describing the event, empty values left out.
std::vector<std::pair<std::string, std::string>> details(const Event& e) {
  std::vector<std::pair<std::string, std::string>> d;
  const auto add = [&](std::string label, std::string value) {
    if (!value.empty()) d.emplace_back(std::move(label), one_line(value));
  };
  if (e.game) {
    add("Players", players_text(*e.game));
    add("Emulator", e.game->emulator);
    add("Opened by", e.game->owner);
  }
  add("Relay", e.relay.name);
  add("Location", e.relay.location);
  add("Address", e.relay.address);
  if (!e.game && e.relay.online)
    add("Users", std::to_string(e.relay.users) +
                     (e.relay.max_users > 0 ? "/" + std::to_string(e.relay.max_users) : std::string()));
  return d;
}

json relay_json(const RelayView& r) {
  return {{"id", r.id},
          {"name", r.name},
          {"location", r.location},
          {"address", r.address},
          {"external", r.external},
          {"online", r.online},
          {"users", r.users},
          {"max_users", r.max_users},
          {"games", r.games},
          {"playing_games", r.playing_games}};
}

json game_json(const GameView& g) {
  return {{"id", g.game_id},        {"name", g.name},       {"owner", g.owner},
          {"emulator", g.emulator}, {"players", g.players}, {"max_players", g.max_players}};
}

}  // namespace

std::string headline(const Event& e) {
  const std::string relay = one_line(relay_text(e.relay));
  const std::string game = e.game ? one_line(e.game->name) : std::string();
  switch (e.type) {
    case EventType::kGameOpened:
      return game + " \xE2\x80\x94 waiting for players on " + relay;
    case EventType::kGameStarted:
      if (e.reason == "full") return game + " on " + relay + " is full (" + players_text(*e.game) + ")";
      return game + " started on " + relay;
    case EventType::kRelayOnline:
      return relay + " is online";
    case EventType::kRelayOffline:
      return relay + " went offline";
  }
  return {};
}

std::string discord_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  for (const char c : one_line(text)) {
    switch (c) {
      case '\\':
      case '*':
      case '_':
      case '~':
      case '`':
      case '|':
      case '>':
      case '#':
      case '[':
      case ']':
      case '(':
      case ')':
      case '-':
      case '@':
        out += '\\';
        break;
      default:
        break;
    }
    out += c;
  }
  return out;
}

std::string slack_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  for (const char c : one_line(text)) {
    if (c == '&') {
      out += "&amp;";
    } else if (c == '<') {
      out += "&lt;";
    } else if (c == '>') {
      out += "&gt;";
    } else {
      out += c;
    }
  }
  return out;
}

std::string iso8601(UnixMillis t) {
  // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm), no time zone database needed.
  const std::int64_t ms = ((t % 1000) + 1000) % 1000;
  std::int64_t secs = (t - ms) / 1000;
  std::int64_t days = secs / 86400;
  std::int64_t rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const std::int64_t doe = days - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const std::int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const std::int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%03lldZ",
                static_cast<long long>(y), static_cast<long long>(m), static_cast<long long>(d),
                static_cast<long long>(rem / 3600), static_cast<long long>(rem / 60 % 60),
                static_cast<long long>(rem % 60), static_cast<long long>(ms));
  return buf;
}

std::string format_payload(Format format, const Event& e) {
  switch (format) {
    case Format::kDiscord: {
      const std::string relay = discord_escape(relay_text(e.relay));
      const std::string game = e.game ? discord_escape(e.game->name) : std::string();
      std::string content;
      std::string title;
      std::string description;
      switch (e.type) {
        case EventType::kGameOpened:
          content = "**" + game + "** \xE2\x80\x94 waiting for players on **" + relay + "**";
          title = game;
          description = "Waiting for players on " + relay;
          break;
        case EventType::kGameStarted:
          content = e.reason == "full"
                        ? "**" + game + "** on **" + relay + "** is full (" + players_text(*e.game) + ")"
                        : "**" + game + "** started on **" + relay + "**";
          title = game;
          description = e.reason == "full" ? "Every seat is taken on " + relay : "Started on " + relay;
          break;
        case EventType::kRelayOnline:
          content = "**" + relay + "** is online";
          title = relay;
          description = "Online";
          break;
        case EventType::kRelayOffline:
          content = "**" + relay + "** went offline";
          title = relay;
          description = "Offline";
          break;
      }
      json fields = json::array();
      for (const auto& [label, value] : details(e))
        fields.push_back({{"name", label}, {"value", discord_escape(value)}, {"inline", true}});
      json embed = {{"title", title},
                    {"description", description},
                    {"color", color(e)},
                    {"fields", fields},
                    {"timestamp", iso8601(e.at)}};
      return dump({{"content", content},
                   {"embeds", json::array({embed})},
                   {"allowed_mentions", {{"parse", json::array()}}}});
    }
    case Format::kSlack: {
      std::string text = slack_escape(headline(e));
      if (e.game) {
        // Bold the game's name at the start of the line.
        const std::string name = slack_escape(one_line(e.game->name));
        if (text.rfind(name, 0) == 0 && !name.empty()) text = "*" + name + "*" + text.substr(name.size());
      }
      std::string context;
      for (const auto& [label, value] : details(e))
        context += (context.empty() ? "" : "  \xC2\xB7  ") + label + ": " + slack_escape(value);
      json blocks = json::array();
      blocks.push_back({{"type", "section"}, {"text", {{"type", "mrkdwn"}, {"text", text}}}});
      if (!context.empty())
        blocks.push_back(
            {{"type", "context"}, {"elements", json::array({{{"type", "mrkdwn"}, {"text", context}}})}});
      return dump({{"text", text}, {"blocks", blocks}});
    }
    case Format::kJson:
      break;
  }
  json j = {{"event", std::string(to_string(e.type))},
            {"at_unix_ms", e.at},
            {"text", headline(e)},
            {"relay", relay_json(e.relay)},
            {"game", e.game ? game_json(*e.game) : json()}};
  if (!e.reason.empty()) j["reason"] = e.reason;
  if (e.game) j["waiting_since_unix_ms"] = e.waiting_since;
  return dump(j);
}

}  // namespace kaillera::master::webhook

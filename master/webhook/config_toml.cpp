#include "master/webhook/config_toml.hpp"

#include <functional>
#include <map>

#include "common/config/toml_settings.hpp"

namespace kaillera::master::webhook {

namespace {

using Setter = std::function<std::string(const toml::node&, WebhookConfig&)>;

template <typename T>
Setter int_key(T WebhookConfig::*field, std::int64_t min, std::int64_t max) {
  return [=](const toml::node& n, WebhookConfig& w) {
    std::int64_t x = 0;
    std::string problem = config::get_int(n, min, max, x);
    if (problem.empty()) w.*field = static_cast<T>(x);
    return problem;
  };
}

Setter strings_key(std::vector<std::string> Filter::*field) {
  return [=](const toml::node& n, WebhookConfig& w) { return config::get_strings(n, w.filter.*field, true); };
}

const std::map<std::string, Setter, std::less<>>& keys() {
  static const std::map<std::string, Setter, std::less<>> k = {
      {"name",
       [](const toml::node& n, WebhookConfig& w) {
         std::string v;
         std::string problem = config::get_string(n, v);
         if (!problem.empty()) return problem;
         if (v.empty() || v.size() > 64 ||
             v.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
                 std::string::npos)
           return "must be 1..64 of A-Z a-z 0-9 . _ - (got '" + v.substr(0, 80) + "')";
         w.name = v;
         return std::string();
       }},
      {"url",
       [](const toml::node& n, WebhookConfig& w) {
         std::string v;
         std::string problem = config::get_string(n, v);
         if (!problem.empty()) return problem;
         if (!parse_url(v, problem)) return problem;
         w.url = v;
         return std::string();
       }},
      {"format",
       [](const toml::node& n, WebhookConfig& w) {
         std::string v;
         std::string problem = config::get_string(n, v);
         if (!problem.empty()) return problem;
         const auto f = parse_format(v);
         if (!f) return "must be discord, slack or json (got '" + v.substr(0, 40) + "')";
         w.format = *f;
         return std::string();
       }},
      {"events",
       [](const toml::node& n, WebhookConfig& w) {
         std::vector<std::string> v;
         std::string problem = config::get_strings(n, v, true);
         if (!problem.empty()) return problem;
         std::vector<EventType> events;
         for (const auto& s : v) {
           const auto e = parse_event(s);
           if (!e)
             return "must name game_opened, game_started, relay_online or relay_offline (got '" +
                    s.substr(0, 40) + "')";
           if (!std::count(events.begin(), events.end(), *e)) events.push_back(*e);
         }
         if (events.empty()) return std::string("must name at least one event");
         w.events = std::move(events);
         return std::string();
       }},
      {"relays", strings_key(&Filter::relays)},
      {"locations", strings_key(&Filter::locations)},
      {"games", strings_key(&Filter::games)},
      {"min_players",
       [](const toml::node& n, WebhookConfig& w) {
         std::int64_t x = 0;
         std::string problem = config::get_int(n, 1, 255, x);
         if (problem.empty()) w.filter.min_players = static_cast<int>(x);
         return problem;
       }},
      {"external",
       [](const toml::node& n, WebhookConfig& w) { return config::get_bool(n, w.filter.external); }},
      {"debounce_ms", int_key(&WebhookConfig::debounce_ms, 0, 3'600'000)},
      {"timeout_ms", int_key(&WebhookConfig::timeout_ms, 100, 120'000)},
      {"max_attempts", int_key(&WebhookConfig::max_attempts, 1, 100)},
      {"retry_ms", int_key(&WebhookConfig::retry_ms, 10, 600'000)},
      {"rate_per_minute", int_key(&WebhookConfig::rate_per_minute, 1, 6000)},
      {"queue_max", int_key(&WebhookConfig::queue_max, 1, 100'000)},
      {"ca_file", [](const toml::node& n, WebhookConfig& w) { return config::get_string(n, w.ca_file); }},
  };
  return k;
}

std::string line_of(const toml::node& n) {
  return std::to_string(n.source().begin.line);
}

std::string parse_one(const toml::table& t, std::size_t index, WebhookConfig& w) {
  const std::string entry = "entry " + std::to_string(index + 1);
  w.name = "webhook-" + std::to_string(index + 1);
  std::vector<std::pair<std::string, const toml::node*>> items;
  for (auto&& [key, node] : t)
    items.emplace_back(std::string(key.str()), &node);
  std::sort(items.begin(), items.end(), [](const auto& a, const auto& b) {
    return a.second->source().begin.line < b.second->source().begin.line;
  });
  for (const auto& [key, node] : items) {
    auto it = keys().find(key);
    if (it == keys().end()) return entry + ": unknown key '" + key + "' (line " + line_of(*node) + ")";
    if (std::string problem = it->second(*node, w); !problem.empty())
      return entry + ", key '" + key + "' (line " + line_of(*node) + "): " + problem;
  }
  if (w.url.empty()) return entry + " (line " + line_of(t) + "): key 'url' is missing";
  return {};
}

}  // namespace

std::string parse_webhooks(const toml::node& n, std::vector<WebhookConfig>& out) {
  std::vector<WebhookConfig> hooks;
  if (const auto* t = n.as_table()) {
    hooks.emplace_back();
    if (std::string problem = parse_one(*t, 0, hooks.back()); !problem.empty()) return problem;
  } else if (const auto* a = n.as_array()) {
    for (std::size_t i = 0; i < a->size(); ++i) {
      const auto* t2 = (*a)[i].as_table();
      if (t2 == nullptr)
        return "must be tables ([[webhook]]) (entry " + std::to_string(i + 1) + " is " +
               config::type_name((*a)[i]) + ")";
      hooks.emplace_back();
      if (std::string problem = parse_one(*t2, i, hooks.back()); !problem.empty()) return problem;
    }
  } else {
    return "must be tables ([[webhook]]) (got " + config::type_name(n) + ")";
  }
  out = std::move(hooks);
  return {};
}

}  // namespace kaillera::master::webhook

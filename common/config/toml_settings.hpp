// The TOML side of a program's settings, shared by kaillera-relay and kaillera-master: a table of keys, each
// with a setter that checks the node's type and range and stores it, applied in file order so that the first
// problem reported is the first one in the file. Every message names the file, the key and the line.
#pragma once

#include <toml++/toml.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kaillera::config {

// A setter returns "" or "must be ... (got ...)".
template <class Settings>
using Setter = std::function<std::string(const toml::node&, Settings&)>;
template <class Settings>
using Keys = std::map<std::string, Setter<Settings>, std::less<>>;

inline std::string type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    default:
      return "nothing";
  }
}

inline std::string get_string(const toml::node& n, std::string& out) {
  const auto* v = n.as_string();
  if (v == nullptr) return "must be a string (got " + type_name(n) + ")";
  out = v->get();
  return {};
}

// An integer min..max; `want` names what is wanted ("must be an integer 1..100" unless given).
inline std::string get_int(const toml::node& n, std::int64_t min, std::int64_t max, std::int64_t& out,
                           std::string want = {}) {
  if (want.empty()) want = "must be an integer " + std::to_string(min) + ".." + std::to_string(max);
  const auto* v = n.as_integer();
  if (v == nullptr) return want + " (got " + type_name(n) + ")";
  if (v->get() < min || v->get() > max) return want + " (got " + std::to_string(v->get()) + ")";
  out = v->get();
  return {};
}

inline std::string get_bool(const toml::node& n, bool& out) {
  const auto* v = n.as_boolean();
  if (v == nullptr) return "must be true or false (got " + type_name(n) + ")";
  out = v->get();
  return {};
}

// An array of strings; `allow_single` also takes one plain string.
inline std::string get_strings(const toml::node& n, std::vector<std::string>& out, bool allow_single) {
  if (allow_single && n.is_string()) {
    out = {n.as_string()->get()};
    return {};
  }
  const std::string want =
      allow_single ? "must be a string or an array of strings" : "must be an array of strings";
  const auto* a = n.as_array();
  if (a == nullptr) return want + " (got " + type_name(n) + ")";
  std::vector<std::string> values;
  for (std::size_t i = 0; i < a->size(); ++i) {
    const auto* v = (*a)[i].as_string();
    if (v == nullptr) return want + " (element " + std::to_string(i) + " is " + type_name((*a)[i]) + ")";
    values.push_back(v->get());
  }
  out = std::move(values);
  return {};
}

inline bool valid_log_level(std::string_view level) {
  static constexpr std::string_view kLevels[] = {"trace", "debug",    "info", "warn",
                                                 "error", "critical", "off"};
  return std::find(std::begin(kLevels), std::end(kLevels), level) != std::end(kLevels);
}

// Parses `text` and applies every key through `keys`: "" or "<source>: <problem naming the key> (line N)".
template <class Settings>
std::string apply_toml_keys(std::string_view text, std::string_view source, const Keys<Settings>& keys,
                            Settings& s) {
  const std::string src(source);
  toml::table table;
  try {
    table = toml::parse(text, src);
  } catch (const toml::parse_error& e) {
    return src + ":" + std::to_string(e.source().begin.line) + ":" + std::to_string(e.source().begin.column) +
           ": " + std::string(e.description());
  }
  std::vector<std::pair<std::string, const toml::node*>> items;
  for (auto&& [key, node] : table)
    items.emplace_back(std::string(key.str()), &node);
  std::sort(items.begin(), items.end(), [](const auto& a, const auto& b) {
    return a.second->source().begin.line < b.second->source().begin.line;
  });
  for (const auto& [key, node] : items) {
    const std::string where = " (line " + std::to_string(node->source().begin.line) + ")";
    auto it = keys.find(key);
    if (it == keys.end()) return src + ": unknown key '" + key + "'" + where;
    if (std::string problem = it->second(*node, s); !problem.empty()) {
      return src + ": key '" + key + "' " + problem + where;
    }
  }
  return {};
}

// True when two TOML nodes hold the same type and value (tables and arrays compared deeply).
inline bool same_node(const toml::node& a, const toml::node& b) {
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case toml::node_type::table:
      return *a.as_table() == *b.as_table();
    case toml::node_type::array:
      return *a.as_array() == *b.as_array();
    case toml::node_type::string:
      return a.as_string()->get() == b.as_string()->get();
    case toml::node_type::integer:
      return a.as_integer()->get() == b.as_integer()->get();
    case toml::node_type::floating_point:
      return a.as_floating_point()->get() == b.as_floating_point()->get();
    case toml::node_type::boolean:
      return a.as_boolean()->get() == b.as_boolean()->get();
    case toml::node_type::date:
      return a.as_date()->get() == b.as_date()->get();
    case toml::node_type::time:
      return a.as_time()->get() == b.as_time()->get();
    case toml::node_type::date_time:
      return a.as_date_time()->get() == b.as_date_time()->get();
    default:
      return true;
  }
}

// The top-level keys that differ between two TOML documents (added, removed or with another value), sorted.
// A text that does not parse counts as an empty document.
inline std::vector<std::string> changed_keys(std::string_view before, std::string_view after) {
  const auto parse = [](std::string_view text) {
    try {
      return toml::parse(text);
    } catch (const toml::parse_error&) {
      return toml::table{};
    }
  };
  const toml::table a = parse(before), b = parse(after);
  std::vector<std::string> out;
  for (auto&& [key, node] : a) {
    const toml::node* other = b.get(key.str());
    if (other == nullptr || !same_node(node, *other)) out.emplace_back(key.str());
  }
  for (auto&& [key, node] : b) {
    if (a.get(key.str()) == nullptr) out.emplace_back(key.str());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// "[a, b]": a list value as the reload's log lines show it.
inline std::string list_text(const std::vector<std::string>& v) {
  std::string out = "[";
  for (const auto& x : v)
    out += (out.size() > 1 ? ", " : "") + x;
  return out + "]";
}

// What a reload (SIGHUP) changes, for both programs' plan_reload: each key of `reloadable` whose value (as
// `value(settings, key)` shows it) differs between the running and the newly loaded settings gives a line
// "key: old -> new"; each other key that differs between the file the program started with and the file now
// is named in `restart`.
struct ReloadDiff {
  std::vector<std::string> changed;
  std::vector<std::string> restart;
};
template <class Settings, std::size_t N>
ReloadDiff reload_diff(const Settings& running, const Settings& next, const std::string_view (&reloadable)[N],
                       std::string (*value)(const Settings&, std::string_view), std::string_view start_text,
                       std::string_view new_text) {
  ReloadDiff d;
  for (std::string_view key : reloadable) {
    const std::string before = value(running, key), after = value(next, key);
    if (before != after) d.changed.push_back(std::string(key) + ": " + before + " -> " + after);
  }
  for (const auto& key : changed_keys(start_text, new_text)) {
    if (std::find(std::begin(reloadable), std::end(reloadable), key) == std::end(reloadable))
      d.restart.push_back(key);
  }
  return d;
}

// The steps both servers' SIGHUP share: load the command line and the file again (`load` returns the
// program's LoadResult), refuse the whole reload on an error, diff the reloadable keys, and let `take` copy
// the reloadable keys' new values into the plan's settings (a copy of `running`). `program` names the server
// in the error of a command line that does not start one.
template <class Plan, class Settings, std::size_t N, class Load, class Take>
Plan reload_plan(const Settings& running, Load&& load, const std::string_view (&reloadable)[N],
                 std::string (*value)(const Settings&, std::string_view), std::string_view program,
                 Take&& take) {
  Plan plan;
  plan.settings = running;
  auto fresh = load();
  if (fresh.exit) {
    plan.error =
        fresh.error.empty() ? "the command line does not start a " + std::string(program) : fresh.error;
    return plan;
  }
  auto diff = reload_diff(running, fresh.settings, reloadable, value, running.config_text,
                          fresh.settings.config_text);
  plan.changed = std::move(diff.changed);
  plan.restart = std::move(diff.restart);
  take(plan, fresh.settings);
  return plan;
}

// Whether a line of ReloadDiff::changed names a key starting with `prefix` (e.g. every announce* key).
inline bool any_changed(const std::vector<std::string>& changed, std::string_view prefix) {
  return std::any_of(changed.begin(), changed.end(),
                     [&](const std::string& line) { return line.rfind(prefix, 0) == 0; });
}

// Reads `path` and hands its text to `apply` (usually a program's apply_toml).
template <class Apply>
std::string apply_toml_file(const std::string& path, Apply&& apply) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return path + ": cannot open the config file";
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return path + ": cannot read the config file";
  return apply(text.str(), path);
}

}  // namespace kaillera::config

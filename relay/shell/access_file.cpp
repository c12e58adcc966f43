#include "relay/shell/access_file.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <unordered_map>
#include <utility>

#include <toml++/toml.h>

#include "common/config/toml_settings.hpp"
#include "common/net/address.hpp"
#include "common/text/charset.hpp"

namespace kaillera::relay::shell {

namespace {

// Longest texts, in bytes of the relay's charset: an announce is one chat line (max_chat_length's ceiling),
// a label a short name.
constexpr std::size_t kMaxAnnounce = 1000;
constexpr std::size_t kMaxLabel = 127;

std::string quoted(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

std::uint32_t mask_of(std::uint8_t prefix) {
  return prefix == 0 ? 0u : ~std::uint32_t{0} << (32 - prefix);
}

// A host name: 1..253 characters, dot-separated labels of 1..63 letters, digits and '-', no label starting
// or ending with '-'. "" when it is one, else what is wrong.
std::string host_name_problem(std::string_view h) {
  if (h.empty()) return "the host name is empty";
  if (h.size() > 253) return "the host name is longer than 253 characters";
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = h.find('.', start);
    const std::string_view label = h.substr(start, dot == std::string_view::npos ? h.npos : dot - start);
    if (label.empty()) return "the host name has an empty label (\"..\", or a '.' at the start or end)";
    if (label.size() > 63) return "a label of the host name is longer than 63 characters";
    for (char c : label) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
      if (!ok) return "a host name has only letters, digits, '-' and '.'";
    }
    if (label.front() == '-' || label.back() == '-')
      return "a label of the host name starts or ends with '-'";
    if (dot == std::string_view::npos) return {};
    start = dot + 1;
  }
}

// One item of `addresses`: a range or a dns name, or why it is neither.
struct AddressItem {
  std::optional<AddressRange> range;
  std::string dns;  // lower case, without "dns:"
  std::string problem;
};

AddressItem parse_address_item(std::string_view v) {
  AddressItem out;
  const std::string q = quoted(v);
  if (v.size() >= 4 && lower(v[0]) == 'd' && lower(v[1]) == 'n' && lower(v[2]) == 's' && v[3] == ':') {
    const std::string_view host = v.substr(4);
    if (std::string p = host_name_problem(host); !p.empty()) {
      out.problem = q + " is not dns:HOST: " + p;
      return out;
    }
    out.dns.reserve(host.size());
    for (char c : host)
      out.dns.push_back(lower(c));
    return out;
  }
  if (auto r = parse_range(v)) {
    out.range = *r;
    return out;
  }
  // Say what is wrong where it is a likely slip.
  const std::string generic = q + " is not an address, a CIDR range or dns:HOST";
  if (v.find('*') != std::string_view::npos) {
    // EmuLinker-style "10.0.*.*": suggest the range when the stars are whole trailing octets.
    std::vector<std::string_view> parts;
    for (std::size_t s = 0;;) {
      const std::size_t d = v.find('.', s);
      parts.push_back(v.substr(s, d == std::string_view::npos ? v.npos : d - s));
      if (d == std::string_view::npos) break;
      s = d + 1;
    }
    std::size_t fixed = 0;
    while (fixed < parts.size() && parts[fixed] != "*")
      ++fixed;
    const bool trailing = parts.size() == 4 && fixed < 4 &&
                          std::all_of(parts.begin() + static_cast<std::ptrdiff_t>(fixed), parts.end(),
                                      [](std::string_view p) { return p == "*"; });
    std::string prefix;
    for (std::size_t i = 0; i < 4 && trailing; ++i)
      prefix += (i ? "." : "") + std::string(i < fixed ? parts[i] : "0");
    if (trailing && parse_range(prefix + "/" + std::to_string(fixed * 8))) {
      out.problem =
          generic + " (wildcards are not supported: write " + prefix + "/" + std::to_string(fixed * 8) + ")";
    } else {
      out.problem = generic + " (wildcards are not supported: write a CIDR range such as 10.0.0.0/16)";
    }
    return out;
  }
  const std::size_t slash = v.find('/');
  if (slash != std::string_view::npos) {
    const auto ip = net::parse_ipv4(v.substr(0, slash));
    const std::string_view p = v.substr(slash + 1);
    unsigned bits = 0;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), bits);
    const bool prefix_ok = !p.empty() && ec == std::errc() && end == p.data() + p.size() && bits <= 32;
    if (ip && !prefix_ok) {
      out.problem = generic + " (the prefix length after '/' must be 0..32)";
    } else if (ip) {
      const AddressRange network{*ip & mask_of(static_cast<std::uint8_t>(bits)),
                                 static_cast<std::uint8_t>(bits)};
      out.problem = q + " has host bits set: the range is " + to_string(network) + " (or write " +
                    net::ip_to_string(*ip) + " for the one address)";
    } else {
      out.problem = generic;
    }
    return out;
  }
  if (v.find(':') != std::string_view::npos) {
    out.problem = generic + " (IPv4 only, without a port: Kaillera clients connect over IPv4)";
    return out;
  }
  out.problem = generic;
  return out;
}

// Where a range or a dns name was first given, for the warnings about entries hidden by earlier ones.
struct Origin {
  std::size_t entry = 0;  // 1-based [[user]] number
  std::uint32_t line = 0;
  std::string text;  // as written
  Level level = Level::kNormal;
};

class Parser {
 public:
  Parser(std::string_view source, std::string_view charset) : source_(source), charset_(charset) {}

  AccessLoad run(std::string_view text) {
    AccessLoad out;
    if (!text::known_charset(charset_)) {
      out.error = source_ + ": the relay's charset " + quoted(charset_) + " is unknown";
      return out;
    }
    toml::table doc;
    try {
      doc = toml::parse(text, source_);
    } catch (const toml::parse_error& e) {
      out.error = source_ + ":" + std::to_string(e.source().begin.line) + ":" +
                  std::to_string(e.source().begin.column) + ": " + std::string(e.description());
      return out;
    }
    AccessList list;
    if (!top_level(doc, list)) {
      out.error = error_;
      return out;
    }
    list_warnings(list);
    out.list = std::move(list);
    out.warnings = std::move(warnings_);
    return out;
  }

 private:
  // A table's keys in file order, so that the first problem reported is the first in the file.
  static std::vector<std::pair<std::string, const toml::node*>> in_file_order(const toml::table& t) {
    std::vector<std::pair<std::string, const toml::node*>> items;
    for (auto&& [key, node] : t)
      items.emplace_back(std::string(key.str()), &node);
    std::stable_sort(items.begin(), items.end(), [](const auto& a, const auto& b) {
      const auto& x = a.second->source().begin;
      const auto& y = b.second->source().begin;
      return x.line != y.line ? x.line < y.line : x.column < y.column;
    });
    return items;
  }

  std::string at(std::uint32_t line, std::string_view key) const {
    return source_ + ":" + std::to_string(line) + ": " + std::string(key) + ": ";
  }
  bool fail(const toml::node& n, std::string_view key, std::string_view what) {
    error_ = at(n.source().begin.line, key) + std::string(what);
    return false;
  }
  void warn(std::uint32_t line, std::string_view key, std::string_view what) {
    warnings_.push_back(at(line, key) + std::string(what));
  }

  bool top_level(const toml::table& doc, AccessList& list) {
    bool has_default = false;
    for (const auto& [key, node] : in_file_order(doc)) {
      if (key == "default_level") {
        if (!level(*node, key, list.default_level)) return false;
        has_default = true;
        default_line_ = node->source().begin.line;
      } else if (key == "games_allow" || key == "games_deny" || key == "emulators_allow" ||
                 key == "emulators_deny") {
        auto& v = key == "games_allow"       ? list.games_allow
                  : key == "games_deny"      ? list.games_deny
                  : key == "emulators_allow" ? list.emulators_allow
                                             : list.emulators_deny;
        if (!patterns(*node, key, v)) return false;
      } else if (key == "user") {
        const auto* arr = node->as_array();
        if (arr == nullptr || !arr->is_array_of_tables()) {
          return fail(*node, key, "must be [[user]] tables (got " + config::type_name(*node) + ")");
        }
        for (std::size_t i = 0; i < arr->size(); ++i) {
          AccessEntry e;
          if (!user(*(*arr)[i].as_table(), i + 1, e)) return false;
          list.entries.push_back(std::move(e));
        }
      } else {
        return fail(*node, key,
                    "unknown key (known: default_level, games_allow, games_deny, emulators_allow, "
                    "emulators_deny, [[user]])");
      }
    }
    has_default_ = has_default;
    return true;
  }

  bool level(const toml::node& n, std::string_view key, Level& out) {
    const auto* s = n.as_string();
    const auto l = s != nullptr ? parse_level(s->get()) : std::nullopt;
    if (!l) {
      std::string what =
          "must be one of \"banned\", \"normal\", \"elevated\", \"moderator\", \"admin\", \"owner\" (got " +
          (s != nullptr ? quoted(s->get()) : config::type_name(n)) + ")";
      if (s != nullptr && (s->get() == "superadmin" || s->get() == "SUPERADMIN")) {
        what += "; EmuLinker's SUPERADMIN is \"owner\" here";
      }
      return fail(n, key, what);
    }
    out = *l;
    return true;
  }

  // `key` = "announce": in the charset exactly, at most `max` bytes there, no control characters (a NUL
  // would end the Kaillera string early; a line break shows as garbage in most clients).
  bool encoded_text(const toml::node& n, std::string_view key, std::size_t max, std::string& out) {
    const auto* s = n.as_string();
    if (s == nullptr) return fail(n, key, "must be a string (got " + config::type_name(n) + ")");
    const std::string& utf8 = s->get();
    for (unsigned char c : utf8) {
      if (c < 0x20 || c == 0x7f)
        return fail(n, key, "must not contain control characters (line breaks, tabs, ...)");
    }
    std::size_t bad = 0;
    auto bytes = text::encode_exact(utf8, charset_, &bad);
    if (!bytes) return fail(n, key, cannot_encode(utf8, bad));
    if (bytes->size() > max) {
      return fail(n, key,
                  "is " + std::to_string(bytes->size()) + " bytes in charset " + quoted(charset_) +
                      ", at most " + std::to_string(max));
    }
    out = std::move(*bytes);
    return true;
  }

  std::string cannot_encode(const std::string& utf8, std::size_t bad) const {
    // The character at `bad`: its UTF-8 sequence (lead byte + continuation bytes).
    std::size_t end = bad + 1;
    while (end < utf8.size() && (static_cast<unsigned char>(utf8[end]) & 0xC0) == 0x80)
      ++end;
    return quoted(utf8) + " has " + quoted(utf8.substr(bad, end - bad)) + ", which the relay's charset " +
           quoted(charset_) + " cannot encode (clients would see '?')";
  }

  bool patterns(const toml::node& n, std::string_view key, std::vector<std::string>& out) {
    const auto* a = n.as_array();
    if (a == nullptr) {
      return fail(n, key, "must be an array of glob patterns (* and ?) (got " + config::type_name(n) + ")");
    }
    std::vector<std::string> values;
    for (std::size_t i = 0; i < a->size(); ++i) {
      const std::string item = std::string(key) + "[" + std::to_string(i) + "]";
      const auto* s = (*a)[i].as_string();
      if (s == nullptr)
        return fail((*a)[i], item, "must be a string (got " + config::type_name((*a)[i]) + ")");
      if (s->get().empty()) return fail((*a)[i], item, "is empty (a pattern matching every name is \"*\")");
      // Clients send game and emulator names in the relay's charset: match in it too. A character the charset
      // lacks must not become '?', which would match any byte.
      std::size_t bad = 0;
      auto bytes = text::encode_exact(s->get(), charset_, &bad);
      if (!bytes) return fail((*a)[i], item, cannot_encode(s->get(), bad));
      values.push_back(std::move(*bytes));
    }
    out = std::move(values);
    return true;
  }

  bool user(const toml::table& t, std::size_t number, AccessEntry& e) {
    const std::string where = "[[user]] #" + std::to_string(number);
    bool has_level = false, has_addresses = false;
    for (const auto& [key, node] : in_file_order(t)) {
      const std::string k = where + " " + key;
      if (key == "level") {
        if (!level(*node, k, e.level)) return false;
        has_level = true;
      } else if (key == "addresses") {
        if (!addresses(*node, k, number, e)) return false;
        has_addresses = true;
      } else if (key == "announce") {
        if (!encoded_text(*node, k, kMaxAnnounce, e.announce)) return false;
      } else if (key == "label") {
        if (!encoded_text(*node, k, kMaxLabel, e.label)) return false;
      } else if (key == "silenced") {
        const auto* b = node->as_boolean();
        if (b == nullptr)
          return fail(*node, k, "must be true or false (got " + config::type_name(*node) + ")");
        e.silenced = b->get();
      } else {
        return fail(*node, k, "unknown key (known: level, addresses, announce, label, silenced)");
      }
    }
    if (!has_level) {
      return fail(
          t, where,
          "needs level = \"banned\", \"normal\", \"elevated\", \"moderator\", \"admin\" or \"owner\"");
    }
    if (!has_addresses) {
      return fail(t, where, "needs addresses = [\"a.b.c.d\", \"a.b.c.0/24\", \"dns:HOST\", ...]");
    }
    // Record where each range and name came from (after the level is known) for the shadow warnings.
    for (auto& o : pending_)
      o.second.level = e.level;
    for (auto& [item, origin] : pending_)
      origins_.emplace_back(std::move(item), std::move(origin));
    pending_.clear();
    return true;
  }

  bool addresses(const toml::node& n, const std::string& key, std::size_t number, AccessEntry& e) {
    const auto* a = n.as_array();
    if (a == nullptr || a->empty()) {
      return fail(n, key,
                  "must be a non-empty array of addresses, CIDR ranges or dns:HOST names (got " +
                      (a == nullptr ? config::type_name(n) : std::string("[]")) + ")");
    }
    for (std::size_t i = 0; i < a->size(); ++i) {
      const toml::node& item_node = (*a)[i];
      const std::string item = key + "[" + std::to_string(i) + "]";
      const auto* s = item_node.as_string();
      if (s == nullptr)
        return fail(item_node, item, "must be a string (got " + config::type_name(item_node) + ")");
      AddressItem parsed = parse_address_item(s->get());
      if (!parsed.problem.empty()) return fail(item_node, item, parsed.problem);
      Origin origin{number, item_node.source().begin.line, s->get(), Level::kNormal};
      if (parsed.range) {
        e.ranges.push_back(*parsed.range);
        pending_.emplace_back(Item{item, parsed.range, {}}, std::move(origin));
      } else {
        if (std::find(e.dns.begin(), e.dns.end(), parsed.dns) == e.dns.end()) e.dns.push_back(parsed.dns);
        pending_.emplace_back(Item{item, std::nullopt, parsed.dns}, std::move(origin));
      }
    }
    return true;
  }

  // Warnings: ranges and names hidden by an earlier entry (the first match decides), and default levels that
  // are probably slips.
  void list_warnings(const AccessList& list) {
    // prefix -> masked network -> the first origin with that range; dns name -> its first origin.
    std::map<std::uint8_t, std::unordered_map<std::uint32_t, const Origin*>> ranges;
    std::map<std::string, const Origin*> names;
    for (const auto& [item, origin] : origins_) {
      if (item.range) {
        const AddressRange r = *item.range;
        const Origin* first = nullptr;
        for (const auto& [prefix, nets] : ranges) {
          if (prefix > r.prefix) break;
          auto it = nets.find(r.net & mask_of(prefix));
          if (it != nets.end() && (first == nullptr || it->second->entry < first->entry)) first = it->second;
        }
        if (first != nullptr && first->entry != origin.entry) {
          warn(origin.line, item.key,
               quoted(origin.text) + " is inside " + quoted(first->text) + " of [[user]] #" +
                   std::to_string(first->entry) + " (line " + std::to_string(first->line) +
                   "), which comes first and decides (level " + std::string(level_name(first->level)) +
                   "): this entry never applies there; put the narrower entry first");
        }
        ranges[r.prefix].emplace(r.net, &origin);
      } else {
        auto [it, fresh] = names.emplace(item.dns, &origin);
        if (!fresh && it->second->entry != origin.entry) {
          warn(origin.line, item.key,
               quoted(origin.text) + " is also in [[user]] #" + std::to_string(it->second->entry) +
                   " (line " + std::to_string(it->second->line) + "), which comes first and decides");
        }
      }
    }
    if (!has_default_) return;
    if (list.default_level == Level::kBanned &&
        std::none_of(list.entries.begin(), list.entries.end(),
                     [](const AccessEntry& e) { return e.level > Level::kBanned; })) {
      warn(default_line_, "default_level",
           "\"banned\" and no [[user]] entry above banned: nobody may log in but relay.toml's admins");
    }
    if (is_staff(list.default_level)) {
      warn(default_line_, "default_level",
           "every address no entry lists is " + std::string(level_name(list.default_level)) +
               ": anyone may use staff commands");
    }
  }

  struct Item {
    std::string key;  // "[[user]] #2 addresses[1]"
    std::optional<AddressRange> range;
    std::string dns;
  };

  std::string source_;
  std::string charset_;
  std::string error_;
  std::vector<std::string> warnings_;
  std::vector<std::pair<Item, Origin>> pending_, origins_;
  bool has_default_ = false;
  std::uint32_t default_line_ = 0;
};

}  // namespace

AccessLoad parse_access_toml(std::string_view text, std::string_view source, std::string_view charset) {
  return Parser(source, charset).run(text);
}

AccessLoad load_access_file(const std::string& path, std::string_view charset) {
  AccessLoad out;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    out.error = path + ": cannot open the access file (" + std::strerror(errno) + ")";
    return out;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    out.error = path + ": cannot read the access file";
    return out;
  }
  return parse_access_toml(text.str(), path, charset);
}

AccessList admins_shorthand(const std::vector<std::string>& admins) {
  return admins_access(admins);  // the core's, so the relay and its unit tests read `admins` alike
}

AccessList merge_admins(AccessList file, const std::vector<std::string>& admins,
                        std::vector<std::string>* warnings) {
  const std::size_t from_file = file.entries.size();
  for (auto& e : admins_shorthand(admins).entries) {
    const std::uint32_t ip = e.ranges.front().net;
    if (warnings != nullptr) {
      for (std::size_t i = 0; i < from_file; ++i) {
        const AccessEntry& f = file.entries[i];
        if (std::any_of(f.ranges.begin(), f.ranges.end(),
                        [&](const AddressRange& r) { return r.contains(ip); })) {
          warnings->push_back("relay.toml: admins: " + net::ip_to_string(ip) +
                              " is in the access file's [[user]] #" + std::to_string(i + 1) + " (level " +
                              std::string(level_name(f.level)) + "), which decides: the access file wins");
          break;
        }
      }
    }
    file.entries.push_back(std::move(e));
  }
  return file;
}

std::vector<std::string> dns_names(const AccessList& list) {
  std::set<std::string> names;
  for (const auto& e : list.entries)
    names.insert(e.dns.begin(), e.dns.end());
  return {names.begin(), names.end()};
}

}  // namespace kaillera::relay::shell

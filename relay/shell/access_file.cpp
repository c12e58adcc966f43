#include "relay/shell/access_file.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <toml++/toml.h>

#include "common/text/charset.hpp"

namespace kaillera::relay::shell {

namespace {

bool valid_host_name(std::string_view h) {
  if (h.empty() || h.size() > 253 || h.front() == '.' || h.front() == '-' || h.back() == '-') return false;
  return std::all_of(h.begin(), h.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
  });
}

class Parser {
 public:
  Parser(std::string_view source, std::string_view charset) : source_(source), charset_(charset) {}

  AccessLoad run(std::string_view text) {
    AccessLoad out;
    toml::table doc;
    try {
      doc = toml::parse(text, source_);
    } catch (const toml::parse_error& e) {
      out.error = std::string(source_) + ":" + std::to_string(e.source().begin.line) + ": " +
                  std::string(e.description());
      return out;
    }
    AccessList list;
    for (const auto& [key, node] : doc) {
      const std::string k(key.str());
      if (k == "default_level") {
        if (!level(node, k, list.default_level)) return fail(out);
      } else if (k == "games_allow" || k == "games_deny" || k == "emulators_allow" || k == "emulators_deny") {
        auto& v = k == "games_allow"       ? list.games_allow
                  : k == "games_deny"      ? list.games_deny
                  : k == "emulators_allow" ? list.emulators_allow
                                           : list.emulators_deny;
        if (!patterns(node, k, v)) return fail(out);
      } else if (k == "user") {
        const auto* arr = node.as_array();
        if (arr == nullptr || !arr->is_array_of_tables()) {
          error(node, k, "must be [[user]] tables");
          return fail(out);
        }
        for (std::size_t i = 0; i < arr->size(); ++i) {
          AccessEntry e;
          if (!user(*(*arr)[i].as_table(), i + 1, e)) return fail(out);
          list.entries.push_back(std::move(e));
        }
      } else {
        error(node, k,
              "unknown key (known: default_level, games_allow, games_deny, emulators_allow, emulators_deny, "
              "[[user]])");
        return fail(out);
      }
    }
    out.list = std::move(list);
    return out;
  }

 private:
  AccessLoad& fail(AccessLoad& out) {
    out.error = error_;
    return out;
  }
  void error(const toml::node& n, std::string_view key, std::string_view what) {
    error_ = std::string(source_) + ":" + std::to_string(n.source().begin.line) + ": " + std::string(key) +
             ": " + std::string(what);
  }
  bool level(const toml::node& n, std::string_view key, Level& out) {
    const auto* s = n.as_string();
    auto l = s ? parse_level(s->get()) : std::nullopt;
    if (!l) {
      error(n, key,
            "must be one of \"banned\", \"normal\", \"elevated\", \"moderator\", \"admin\", \"owner\"");
      return false;
    }
    out = *l;
    return true;
  }
  bool patterns(const toml::node& n, std::string_view key, std::vector<std::string>& out) {
    const auto* a = n.as_array();
    if (a == nullptr) {
      error(n, key, "must be an array of glob patterns (* and ?)");
      return false;
    }
    for (std::size_t i = 0; i < a->size(); ++i) {
      const auto* s = (*a)[i].as_string();
      if (s == nullptr || s->get().empty()) {
        error((*a)[i], std::string(key) + "[" + std::to_string(i) + "]", "must be a non-empty string");
        return false;
      }
      // Clients send names in the relay's charset: match in it too.
      out.push_back(text::from_utf8(s->get(), charset_));
    }
    return true;
  }
  bool encoded(const toml::node& n, std::string_view key, std::string& out) {
    const auto* s = n.as_string();
    if (s == nullptr) {
      error(n, key, "must be a string");
      return false;
    }
    std::string bytes = text::from_utf8(s->get(), charset_);
    if (text::to_utf8(bytes, charset_) != s->get()) {
      error(n, key,
            "is not UTF-8 or has characters that charset '" + std::string(charset_) + "' cannot encode");
      return false;
    }
    out = std::move(bytes);
    return true;
  }
  bool user(const toml::table& t, std::size_t number, AccessEntry& e) {
    const std::string where = "[[user]] #" + std::to_string(number);
    bool has_level = false, has_addresses = false;
    for (const auto& [key, node] : t) {
      const std::string k = where + " " + std::string(key.str());
      if (key == "level") {
        if (!level(node, k, e.level)) return false;
        has_level = true;
      } else if (key == "addresses") {
        const auto* a = node.as_array();
        if (a == nullptr || a->empty()) {
          error(node, k, "must be a non-empty array of addresses, CIDR ranges or dns:HOST names");
          return false;
        }
        for (std::size_t i = 0; i < a->size(); ++i) {
          const auto* s = (*a)[i].as_string();
          const std::string item = k + "[" + std::to_string(i) + "]";
          if (s == nullptr) {
            error((*a)[i], item, "must be a string");
            return false;
          }
          const std::string& v = s->get();
          if (v.rfind("dns:", 0) == 0) {
            if (!valid_host_name(std::string_view(v).substr(4))) {
              error((*a)[i], item, "\"" + v + "\" is not dns:HOST with a valid host name");
              return false;
            }
            e.dns.push_back(v.substr(4));
          } else if (auto r = parse_range(v)) {
            e.ranges.push_back(*r);
          } else {
            error((*a)[i], item,
                  "\"" + v + "\" is not an address, a CIDR range (host bits zero) or dns:HOST");
            return false;
          }
        }
        has_addresses = true;
      } else if (key == "announce") {
        if (!encoded(node, k, e.announce)) return false;
      } else if (key == "label") {
        if (!encoded(node, k, e.label)) return false;
      } else if (key == "silenced") {
        const auto* b = node.as_boolean();
        if (b == nullptr) {
          error(node, k, "must be true or false");
          return false;
        }
        e.silenced = b->get();
      } else {
        error(node, k, "unknown key (known: level, addresses, announce, label, silenced)");
        return false;
      }
    }
    if (!has_level || !has_addresses) {
      error(t, where, has_level ? "needs addresses" : "needs a level");
      return false;
    }
    return true;
  }

  std::string_view source_, charset_;
  std::string error_;
};

}  // namespace

AccessLoad parse_access_toml(std::string_view text, std::string_view source, std::string_view charset) {
  return Parser(source, charset).run(text);
}

AccessLoad load_access_file(const std::string& path, std::string_view charset) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    AccessLoad out;
    out.error = path + ": cannot read the access file";
    return out;
  }
  std::ostringstream s;
  s << in.rdbuf();
  return parse_access_toml(s.str(), path, charset);
}

AccessList merge_admins(AccessList file, const std::vector<std::string>& admins) {
  for (auto& e : admins_access(admins).entries)
    file.entries.push_back(std::move(e));
  return file;
}

std::vector<std::string> dns_names(const AccessList& list) {
  std::set<std::string> names;
  for (const auto& e : list.entries)
    names.insert(e.dns.begin(), e.dns.end());
  return {names.begin(), names.end()};
}

void apply_resolved(AccessList& list, const std::map<std::string, std::vector<std::uint32_t>>& names) {
  for (auto& e : list.entries) {
    e.resolved.clear();
    for (const auto& n : e.dns) {
      auto it = names.find(n);
      if (it != names.end()) e.resolved.insert(e.resolved.end(), it->second.begin(), it->second.end());
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------

DnsRefresher::DnsRefresher(std::vector<std::string> names, std::chrono::seconds interval,
                           std::function<void(Results)> done, Resolver resolver)
    : names_(std::move(names)),
      interval_(interval),
      done_(std::move(done)),
      resolver_(resolver ? std::move(resolver) : Resolver(&DnsRefresher::system_resolve)) {
  thread_ = std::thread([this] { run(); });
}

DnsRefresher::~DnsRefresher() {
  stop();
}

void DnsRefresher::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::optional<std::vector<std::uint32_t>> DnsRefresher::system_resolve(const std::string& name) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(name.c_str(), nullptr, &hints, &res) != 0) return std::nullopt;
  std::vector<std::uint32_t> out;
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(a->ai_addr);
    const std::uint32_t ip = ntohl(sin->sin_addr.s_addr);
    if (std::find(out.begin(), out.end(), ip) == out.end()) out.push_back(ip);
  }
  ::freeaddrinfo(res);
  return out;
}

void DnsRefresher::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    for (const auto& n : names_) {
      auto r = resolver_(n);
      bool& failing = failing_[n];
      if (r) {
        if (failing) spdlog::info("access file: dns:{} resolves again", n);
        failing = false;
        last_[n] = std::move(*r);
      } else {
        if (!failing) spdlog::warn("access file: dns:{} does not resolve; its last addresses stay", n);
        failing = true;
      }
    }
    done_(last_);
    lock.lock();
    wake_.wait_for(lock, interval_, [&] { return stopping_; });
  }
}

}  // namespace kaillera::relay::shell

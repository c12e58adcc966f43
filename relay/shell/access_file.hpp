// The access file (docs/OPERATING.md "The access file", every key in deploy/access.example.toml): TOML that
// gives levels to addresses, CIDR ranges and dns: names, with optional login announcements, permanent
// silences and the game and emulator filters. Parsed into the core's AccessList; every problem names the
// file, the line and the key. dns: names are resolved off the packet path by DnsRefresher.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "relay/core/moderation.hpp"

namespace kaillera::relay::shell {

struct AccessLoad {
  std::optional<AccessList> list;
  std::string error;  // "access.toml:7: [[user]] #2 addresses[1]: ..." when list is empty
};

// `charset`: the relay's; announce and label texts (UTF-8 in the file) are converted to it.
AccessLoad parse_access_toml(std::string_view text, std::string_view source, std::string_view charset);
AccessLoad load_access_file(const std::string& path, std::string_view charset);

// The list the core uses: the access file's entries first, then relay.toml's `admins` as admin entries.
AccessList merge_admins(AccessList file, const std::vector<std::string>& admins);

// Every dns: name in the list, once each.
std::vector<std::string> dns_names(const AccessList& list);
// Fills each entry's `resolved` from `names` (name -> IPv4 addresses); names missing there resolve to
// nothing.
void apply_resolved(AccessList& list, const std::map<std::string, std::vector<std::uint32_t>>& names);

// Resolves dns: names on its own thread, at start and every interval, and hands the results to a callback
// (on that thread). A failed lookup keeps the name's previous addresses. stop() wakes and joins it at once.
class DnsRefresher {
 public:
  using Resolver = std::function<std::optional<std::vector<std::uint32_t>>(const std::string& name)>;
  using Results = std::map<std::string, std::vector<std::uint32_t>>;

  DnsRefresher(std::vector<std::string> names, std::chrono::seconds interval,
               std::function<void(Results)> done, Resolver resolver = {});
  ~DnsRefresher();
  DnsRefresher(const DnsRefresher&) = delete;
  DnsRefresher& operator=(const DnsRefresher&) = delete;

  void stop();
  // getaddrinfo, IPv4 only; nullopt when the name does not resolve.
  static std::optional<std::vector<std::uint32_t>> system_resolve(const std::string& name);

 private:
  void run();
  std::vector<std::string> names_;
  std::chrono::seconds interval_;
  std::function<void(Results)> done_;
  Resolver resolver_;
  Results last_;
  std::map<std::string, bool> failing_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace kaillera::relay::shell

// The access file's dns: names, resolved off the packet path (docs/OPERATING.md "The access file"): staff
// with a dynamic address give a host name that follows them, as EmuLinker-K's access.cfg allows. DnsRefresher
// resolves every name on its own thread at start and then every interval, and hands the results to a
// callback; apply_resolved() puts them into an AccessList (a pure function the shell calls on its own thread
// before it gives the list to the core).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "relay/core/moderation.hpp"

namespace kaillera::relay::shell {

// dns name (as in AccessEntry::dns) -> its IPv4 addresses (host byte order, sorted, unique).
using DnsResults = std::map<std::string, std::vector<std::uint32_t>>;

// Sets each entry's `resolved` to the addresses of its dns names in `results` (names missing there add
// nothing), replacing what it held.
void apply_resolved(AccessList& list, const DnsResults& results);

class DnsRefresher {
 public:
  // A name's IPv4 addresses, or nullopt when the lookup failed. Called on the refresher's thread only.
  using Resolver = std::function<std::optional<std::vector<std::uint32_t>>(const std::string& name)>;
  // Gets every name that resolved at least once (a name whose lookup fails now keeps its previous
  // addresses). Called on the refresher's thread: post to your own loop from it. Must not throw.
  using Callback = std::function<void(DnsResults)>;
  using Results = DnsResults;

  // Starts the thread, which resolves every name at once, calls `on_results` after that first round (also
  // when nothing resolved), then again after each later round whose results differ from the last ones given.
  // With no names no thread starts and `on_results` is never called. `resolver` defaults to system_resolve.
  // `previous`: what the names resolved to before (a refresher replaced on reload): a name whose first lookup
  // fails keeps those addresses, as it would in a running refresher (entries for other names are dropped).
  DnsRefresher(std::vector<std::string> names, std::chrono::milliseconds interval, Callback on_results,
               Resolver resolver = {}, const DnsResults& previous = {});
  ~DnsRefresher();  // stop()
  DnsRefresher(const DnsRefresher&) = delete;
  DnsRefresher& operator=(const DnsRefresher&) = delete;

  // Starts a round now instead of at the end of the interval (e.g. on SIGHUP). A request made during a round
  // makes one more round right after it.
  void refresh_now();
  // Wakes the thread and joins it: at once while it waits; while it resolves, after the lookup in flight
  // (the rest of that round is skipped and its results are not delivered). Idempotent.
  void stop();

  // getaddrinfo(AF_INET): the name's IPv4 addresses, sorted and unique; nullopt when it does not resolve.
  static std::optional<std::vector<std::uint32_t>> system_resolve(const std::string& name);

 private:
  void run();
  // One lookup: updates last_ and logs a change of state (fails / resolves again / other addresses).
  void resolve_one(const std::string& name);

  const std::vector<std::string> names_;
  const std::chrono::milliseconds interval_;
  const Callback on_results_;
  const Resolver resolver_;

  // The thread's own (no lock).
  DnsResults last_;
  std::map<std::string, bool> failing_;

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool refresh_requested_ = false;
  std::thread thread_;  // last: starts after everything above is built
};

}  // namespace kaillera::relay::shell

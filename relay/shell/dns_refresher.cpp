#include "relay/shell/dns_refresher.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include <spdlog/spdlog.h>

#include "common/net/address.hpp"

namespace kaillera::relay::shell {

namespace {

std::string addresses_text(const std::vector<std::uint32_t>& ips) {
  if (ips.empty()) return "no address";
  std::string s;
  for (std::uint32_t ip : ips)
    s += (s.empty() ? "" : ", ") + net::ip_to_string(ip);
  return s;
}

}  // namespace

void apply_resolved(AccessList& list, const DnsResults& results) {
  for (auto& e : list.entries) {
    e.resolved.clear();
    for (const auto& name : e.dns) {
      auto it = results.find(name);
      if (it != results.end()) e.resolved.insert(e.resolved.end(), it->second.begin(), it->second.end());
    }
    std::sort(e.resolved.begin(), e.resolved.end());
    e.resolved.erase(std::unique(e.resolved.begin(), e.resolved.end()), e.resolved.end());
  }
}

DnsRefresher::DnsRefresher(std::vector<std::string> names, std::chrono::milliseconds interval,
                           Callback on_results, Resolver resolver, const DnsResults& previous)
    : names_(std::move(names)),
      interval_(std::max(interval, std::chrono::milliseconds(1))),
      on_results_(std::move(on_results)),
      resolver_(resolver ? std::move(resolver) : Resolver(&DnsRefresher::system_resolve)) {
  for (const auto& name : names_) {
    if (auto it = previous.find(name); it != previous.end()) last_.insert(*it);
  }
  if (!names_.empty()) thread_ = std::thread([this] { run(); });
}

DnsRefresher::~DnsRefresher() {
  stop();
}

void DnsRefresher::refresh_now() {
  {
    std::lock_guard lock(mutex_);
    refresh_requested_ = true;
  }
  wake_.notify_all();
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
  hints.ai_socktype = SOCK_DGRAM;  // one answer per address, not one per socket type
  addrinfo* res = nullptr;
  if (const int rc = ::getaddrinfo(name.c_str(), nullptr, &hints, &res); rc != 0) {
    spdlog::debug("access file: getaddrinfo({}): {}", name, ::gai_strerror(rc));
    return std::nullopt;
  }
  std::vector<std::uint32_t> out;
  for (const addrinfo* a = res; a != nullptr; a = a->ai_next) {
    if (a->ai_family != AF_INET || a->ai_addr == nullptr) continue;
    sockaddr_in sin{};
    std::memcpy(&sin, a->ai_addr, sizeof sin);
    out.push_back(ntohl(sin.sin_addr.s_addr));
  }
  ::freeaddrinfo(res);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  if (out.empty()) return std::nullopt;
  return out;
}

void DnsRefresher::resolve_one(const std::string& name) {
  std::optional<std::vector<std::uint32_t>> got;
  try {
    got = resolver_(name);
  } catch (const std::exception& e) {
    spdlog::debug("access file: resolving dns:{} threw: {}", name, e.what());
  }
  if (got) {
    std::sort(got->begin(), got->end());
    got->erase(std::unique(got->begin(), got->end()), got->end());
  }
  bool& failing = failing_[name];
  auto last = last_.find(name);
  if (!got) {
    if (!failing) {
      spdlog::warn("access file: dns:{} does not resolve; {}", name,
                   last == last_.end()
                       ? "it matches no address until it does"
                       : "it keeps its last addresses (" + addresses_text(last->second) + ")");
    }
    failing = true;
    return;
  }
  if (failing) {
    spdlog::info("access file: dns:{} resolves again: {}", name, addresses_text(*got));
  } else if (last == last_.end()) {
    spdlog::info("access file: dns:{} is {}", name, addresses_text(*got));
  } else if (last->second != *got) {
    spdlog::info("access file: dns:{} is now {} (was {})", name, addresses_text(*got),
                 addresses_text(last->second));
  }
  failing = false;
  last_[name] = std::move(*got);
}

void DnsRefresher::run() {
  std::optional<DnsResults> delivered;
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    refresh_requested_ = false;
    lock.unlock();
    bool stopped = false;
    for (const auto& name : names_) {
      {
        std::lock_guard check(mutex_);
        if (stopping_) {
          stopped = true;
          break;
        }
      }
      resolve_one(name);
    }
    if (!stopped && (!delivered || *delivered != last_)) {
      delivered = last_;
      on_results_(last_);
    }
    lock.lock();
    wake_.wait_for(lock, interval_, [this] { return stopping_ || refresh_requested_; });
  }
}

}  // namespace kaillera::relay::shell

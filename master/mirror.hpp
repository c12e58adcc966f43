// Mirroring external lists (DESIGN.md data flow 3): every `--mirror` URL is fetched over plain HTTP on the
// master's io_context, one request at a time per list, every `interval`; each fetch is bounded in time
// (connect, request and the whole response together) and in size (the body is cut at `max_bytes` and the
// fetch fails). A good response is parsed (mirror_parse.hpp) and replaces that list's entries in the Catalog;
// a failed one changes nothing, so the Catalog keeps the last good copy until CatalogSettings::mirror_keep_ms
// runs out. Per list it counts outcomes and skipped entries for /metrics.
#pragma once

#include <utility>  // before Asio (TOOLCHAIN.md)

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "master/catalog.hpp"
#include "master/mirror_parse.hpp"

namespace kaillera::master {

struct MirrorOptions {
  std::chrono::milliseconds interval{60'000};
  std::chrono::milliseconds timeout{10'000};  // the whole fetch
  std::size_t max_bytes = 1024 * 1024;        // of the body
  std::string default_charset = "windows-1252";
};

// Outcomes of the fetches of one list.
struct MirrorCounters {
  std::atomic<std::uint64_t> ok{0};
  std::atomic<std::uint64_t> http_error{0};     // a status other than 200
  std::atomic<std::uint64_t> timeout{0};        // not complete within MirrorOptions::timeout
  std::atomic<std::uint64_t> too_large{0};      // body over max_bytes (or headers over 64 KiB)
  std::atomic<std::uint64_t> connect_error{0};  // name not resolved, refused, reset, bad HTTP
  std::atomic<std::uint64_t> parse_error{0};    // a body that is not a list at all
  std::atomic<std::uint64_t> skipped{0};        // entries of good bodies that did not fit the format
};

class MirrorFetcher {
 public:
  // `deliver` gets every good list (on the io_context's thread); `now` is the wall clock in Unix ms.
  MirrorFetcher(boost::asio::io_context& io, std::vector<MirrorUrl> urls, MirrorOptions options,
                std::function<void(const MirrorUrl&, const MirrorList&)> deliver);
  ~MirrorFetcher();
  MirrorFetcher(const MirrorFetcher&) = delete;
  MirrorFetcher& operator=(const MirrorFetcher&) = delete;

  void start();  // the first fetch of every list at once
  void stop();   // cancels fetches under way; nothing is delivered afterwards

  // Prometheus text for kaillera_master_mirror_* (with what the Catalog holds of each list).
  std::string metrics(const std::vector<MirrorHeld>& held) const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace kaillera::master

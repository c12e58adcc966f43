// Start-up work that may block (opening and migrating a SQLite file that another process has locked) runs on
// a thread of its own while the server's thread keeps running its io_context: the health endpoints answer
// (/healthz 200, /readyz 503 with the reason) and signals are handled meanwhile.
#pragma once

#include <utility>  // before Asio (TOOLCHAIN.md)

#include <chrono>
#include <functional>
#include <future>

#include <boost/asio/io_context.hpp>

namespace kaillera::http {

// Runs `work` on its own thread and `io`'s handlers on this one until `work` is done; returns what `work`
// returned or rethrows what it threw. Once `stopping()` is true (a signal handler run here set it) `io` is no
// longer run and the call only waits for `work`, which should then give up soon.
template <class Work>
auto serve_while(boost::asio::io_context& io, Work work, const std::function<bool()>& stopping)
    -> decltype(work()) {
  auto result = std::async(std::launch::async, std::move(work));
  while (result.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    if (stopping()) {
      result.wait();
      break;
    }
    io.run_for(std::chrono::milliseconds(20));
    if (io.stopped() && !stopping()) io.restart();
  }
  return result.get();
}

}  // namespace kaillera::http

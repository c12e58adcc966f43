// Opening a SQLite file that another connection has locked (a migration or a long write transaction in
// another process): the servers wait such a lock out at start-up instead of failing, and say why they are not
// ready yet (common/http/health.hpp).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include "common/store/sqlite.hpp"

namespace kaillera::store {

// Calls `open` until it returns without a StoreError that is locked(): after each such failure calls
// `on_locked(error, attempt)` and waits `pause`. Any other error, or a locked one once `give_up` is true, is
// rethrown.
template <class Open>
auto retry_while_locked(Open&& open, const std::function<void(const StoreError&, int attempt)>& on_locked,
                        const std::atomic<bool>& give_up,
                        std::chrono::milliseconds pause = std::chrono::milliseconds(200))
    -> decltype(open()) {
  for (int attempt = 1;; ++attempt) {
    try {
      return open();
    } catch (const StoreError& e) {
      if (!e.locked() || give_up.load()) throw;
      on_locked(e, attempt);
    }
    const auto until = std::chrono::steady_clock::now() + pause;
    while (!give_up.load() && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace kaillera::store

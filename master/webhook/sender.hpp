// The webhooks' worker (issue 17): one thread with its own io_context for every `[[webhook]]`. Every
// `poll` it reads what the master's list shows (the Catalog's snapshot, an immutable copy: nothing waits on
// the report or list paths), asks each webhook's Announcer (announce.hpp) what to say, formats it
// (payload.hpp) and queues it in that webhook's DeliveryQueue (delivery.hpp), which decides when to send.
// Each webhook delivers one message at a time over HTTP or HTTPS (Boost.Beast with OpenSSL: the system's CA
// store plus the entry's ca_file, SNI, host name verification), each delivery bounded by timeout_ms, so a
// slow or dead receiver holds up nothing but its own queue.
#pragma once

#include <utility>  // before Asio (TOOLCHAIN.md)

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "master/catalog.hpp"
#include "master/webhook/announce.hpp"
#include "master/webhook/config.hpp"

namespace kaillera::master::webhook {

// What the webhooks see of the list: every server and waiting game of `snap`, names in UTF-8. Third-party
// and mirrored servers (and their games) only with `external` (a mirrored list may hold thousands).
Observation observation_from(const Snapshot& snap, UnixMillis now, bool external);

class WebhookSender {
 public:
  using Observe = std::function<Observation()>;

  // Throws std::runtime_error naming the entry when an https webhook's ca_file is not a usable PEM file.
  WebhookSender(std::vector<WebhookConfig> hooks, Observe observe,
                std::chrono::milliseconds poll = std::chrono::milliseconds(250));
  ~WebhookSender();
  WebhookSender(const WebhookSender&) = delete;
  WebhookSender& operator=(const WebhookSender&) = delete;

  void start();  // the worker thread; the first observation at once
  void stop();   // ends deliveries under way (nothing more is sent) and joins the thread

  // Prometheus text for kaillera_master_webhook_* (any thread).
  std::string metrics() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace kaillera::master::webhook

// How one webhook's messages are delivered, as pure code with time as an argument (steady milliseconds): a
// bounded queue, one delivery at a time, a rate limit, retries with exponential backoff, and HTTP 429 pauses
// that honour Retry-After. The sender (sender.hpp) asks next() for the message to send now and reports each
// attempt's outcome to done(); it sleeps until wake_at() in between.
//
// - Rate: at most `rate_per_minute` deliveries in any 60 s window (attempts, retries included).
// - Failure (timeout, connection or TLS error, HTTP 5xx): the message is retried after retry_ms, 2 x
//   retry_ms, 4 x ... (at most kMaxBackoffMs), and given up after max_attempts.
// - HTTP 429: the whole webhook pauses for Retry-After (seconds, decimals allowed, or an HTTP date; capped
//   at kMaxRetryAfterMs), or the backoff when there is none; then the same message goes first. A 429 does
//   not use up an attempt, but a message gives up after kMax429 of them.
// - Any other answer outside 2xx (a 3xx or 4xx: a deleted webhook, a bad token): given up at once.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include "master/webhook/config.hpp"

namespace kaillera::master::webhook {

using SteadyMillis = std::int64_t;

enum class Outcome {
  kOk,            // 2xx
  kRateLimited,   // 429
  kHttpError,     // any other status
  kTimeout,       // no complete answer within timeout_ms
  kConnectError,  // not resolved, refused, reset, malformed HTTP
  kTlsError,      // handshake failed (certificate not trusted, wrong host name, ...)
};
std::string_view to_string(Outcome o);

struct Attempt {
  Outcome outcome = Outcome::kOk;
  int status = 0;                           // HTTP status when there was one
  std::optional<std::int64_t> retry_after;  // ms, from the answer's Retry-After (parse_retry_after)
};

enum class Verdict {
  kSent,      // delivered
  kRetry,     // will be tried again
  kGaveUp,    // failed max_attempts times (or kMax429 rate limits)
  kRejected,  // the receiver refused it for good (3xx, 4xx other than 429)
};

struct Message {
  std::string body;
  EventType event = EventType::kGameOpened;
  int attempts = 0;      // failed deliveries so far
  int rate_limited = 0;  // 429 answers so far
};

// Retry-After's value as milliseconds from now: delta-seconds ("120", also "1.5" as Discord sends) or an
// HTTP date ("Wed, 21 Oct 2015 07:28:00 GMT", against `now_unix_ms`); nullopt when it is neither. Negative
// results become 0.
std::optional<std::int64_t> parse_retry_after(std::string_view value, std::int64_t now_unix_ms);

class DeliveryQueue {
 public:
  static constexpr std::int64_t kMaxBackoffMs = 10 * 60 * 1000;
  static constexpr std::int64_t kMaxRetryAfterMs = 60 * 60 * 1000;
  static constexpr int kMax429 = 20;
  static constexpr std::int64_t kWindowMs = 60'000;

  explicit DeliveryQueue(const WebhookConfig& config);

  // False (and nothing queued) when queue_max messages wait already.
  bool push(std::string body, EventType event);
  // The earliest time next() may hand out a message; nullopt when nothing waits or one is in flight.
  std::optional<SteadyMillis> wake_at(SteadyMillis now) const;
  // The message to send now (it is then in flight), or nullopt.
  std::optional<Message> next(SteadyMillis now);
  // The outcome of the message in flight.
  Verdict done(const Attempt& a, SteadyMillis now);

  std::size_t waiting() const { return queue_.size(); }
  bool in_flight() const { return in_flight_; }
  // Backoff after `failures` failed attempts: retry_ms * 2^(failures-1), at most kMaxBackoffMs.
  std::int64_t backoff(int failures) const;

 private:
  int max_attempts_;
  std::int64_t retry_ms_;
  std::size_t rate_;
  std::size_t queue_max_;
  std::deque<Message> queue_;  // front: the next to send (or the one in flight)
  bool in_flight_ = false;
  SteadyMillis not_before_ = 0;     // backoff or 429 pause
  std::deque<SteadyMillis> sends_;  // starts of deliveries within the last kWindowMs
};

}  // namespace kaillera::master::webhook

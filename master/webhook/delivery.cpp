#include "master/webhook/delivery.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

namespace kaillera::master::webhook {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool parse_uint(std::string_view s, unsigned& out) {
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return !s.empty() && ec == std::errc() && p == s.data() + s.size();
}

// IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
std::optional<std::int64_t> parse_http_date(std::string_view s) {
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (s.size() != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
      s[19] != ':' || s[22] != ':' || s[25] != ' ' || s.substr(26) != "GMT")
    return std::nullopt;
  unsigned day = 0, year = 0, hh = 0, mm = 0, ss = 0;
  if (!parse_uint(s.substr(5, 2), day) || !parse_uint(s.substr(12, 4), year) ||
      !parse_uint(s.substr(17, 2), hh) || !parse_uint(s.substr(20, 2), mm) ||
      !parse_uint(s.substr(23, 2), ss))
    return std::nullopt;
  unsigned month = 0;
  for (unsigned i = 0; i < 12; ++i)
    if (s.substr(8, 3) == kMonths[i]) month = i + 1;
  if (month == 0 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60) return std::nullopt;
  return (days_from_civil(year, month, day) * 86400 + hh * 3600 + mm * 60 + ss) * 1000;
}

}  // namespace

std::string_view to_string(Outcome o) {
  switch (o) {
    case Outcome::kOk:
      return "ok";
    case Outcome::kRateLimited:
      return "rate_limited";
    case Outcome::kHttpError:
      return "http_error";
    case Outcome::kTimeout:
      return "timeout";
    case Outcome::kConnectError:
      return "connect_error";
    case Outcome::kTlsError:
      return "tls_error";
  }
  return "ok";
}

std::optional<std::int64_t> parse_retry_after(std::string_view value, std::int64_t now_unix_ms) {
  value = trim(value);
  if (value.empty()) return std::nullopt;
  if (value.front() >= '0' && value.front() <= '9') {
    // delta-seconds, with an optional fraction.
    const auto dot = value.find('.');
    unsigned whole = 0;
    if (!parse_uint(value.substr(0, dot), whole)) return std::nullopt;
    std::int64_t ms = static_cast<std::int64_t>(std::min<unsigned>(whole, 100'000'000)) * 1000;
    if (dot != std::string_view::npos) {
      const std::string_view frac = value.substr(dot + 1);
      if (frac.empty() || frac.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
      std::int64_t scale = 100;
      for (std::size_t i = 0; i < frac.size() && scale > 0; ++i, scale /= 10)
        ms += (frac[i] - '0') * scale;
      if (frac.size() > 3 && frac.substr(3).find_first_not_of('0') != std::string_view::npos)
        ++ms;  // round up
    }
    return ms;
  }
  const auto at = parse_http_date(value);
  if (!at) return std::nullopt;
  return std::max<std::int64_t>(0, *at - now_unix_ms);
}

DeliveryQueue::DeliveryQueue(const WebhookConfig& c)
    : max_attempts_(std::max(1, c.max_attempts)),
      retry_ms_(std::max<std::int64_t>(1, c.retry_ms)),
      rate_(static_cast<std::size_t>(std::max(1, c.rate_per_minute))),
      queue_max_(static_cast<std::size_t>(std::max(1, c.queue_max))) {}

bool DeliveryQueue::push(std::string body, EventType event) {
  if (queue_.size() >= queue_max_) return false;
  queue_.push_back(Message{std::move(body), event, 0, 0});
  return true;
}

std::int64_t DeliveryQueue::backoff(int failures) const {
  std::int64_t d = retry_ms_;
  for (int i = 1; i < failures && d < kMaxBackoffMs; ++i)
    d *= 2;
  return std::min(d, kMaxBackoffMs);
}

std::optional<SteadyMillis> DeliveryQueue::wake_at(SteadyMillis now) const {
  if (queue_.empty() || in_flight_) return std::nullopt;
  SteadyMillis t = not_before_;
  // The window holds the starts of the last `rate_` deliveries at most once trimmed; a full window opens
  // when its oldest start is kWindowMs old.
  std::size_t recent = 0;
  for (auto it = sends_.rbegin(); it != sends_.rend() && *it > now - kWindowMs; ++it)
    ++recent;
  if (recent >= rate_) t = std::max(t, sends_[sends_.size() - rate_] + kWindowMs);
  return t;
}

std::optional<Message> DeliveryQueue::next(SteadyMillis now) {
  const auto t = wake_at(now);
  if (!t || *t > now) return std::nullopt;
  while (!sends_.empty() && sends_.front() <= now - kWindowMs)
    sends_.pop_front();
  sends_.push_back(now);
  in_flight_ = true;
  return queue_.front();
}

Verdict DeliveryQueue::done(const Attempt& a, SteadyMillis now) {
  if (!in_flight_ || queue_.empty()) return Verdict::kRejected;
  in_flight_ = false;
  Message& m = queue_.front();
  switch (a.outcome) {
    case Outcome::kOk:
      queue_.pop_front();
      return Verdict::kSent;
    case Outcome::kRateLimited: {
      if (++m.rate_limited >= kMax429) {
        queue_.pop_front();
        not_before_ = now + backoff(1);
        return Verdict::kGaveUp;
      }
      const std::int64_t wait =
          a.retry_after ? std::min(*a.retry_after, kMaxRetryAfterMs) : backoff(m.rate_limited);
      not_before_ = now + wait;
      return Verdict::kRetry;
    }
    case Outcome::kHttpError:
      if (a.status < 500) {
        queue_.pop_front();
        return Verdict::kRejected;
      }
      break;
    case Outcome::kTimeout:
    case Outcome::kConnectError:
    case Outcome::kTlsError:
      break;
  }
  if (++m.attempts >= max_attempts_) {
    queue_.pop_front();
    return Verdict::kGaveUp;
  }
  // A 503 may say when to come back; never sooner than the backoff.
  not_before_ = now + std::max(backoff(m.attempts), std::min(a.retry_after.value_or(0), kMaxRetryAfterMs));
  return Verdict::kRetry;
}

}  // namespace kaillera::master::webhook

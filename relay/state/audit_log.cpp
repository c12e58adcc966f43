#include "relay/state/audit_log.hpp"

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "common/text/charset.hpp"

namespace kaillera::relay::state {

namespace {

std::string iso_time(std::chrono::system_clock::time_point when) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

int open_append(const std::string& path) {
  return ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

// Writes all of `text` unless an error stops it; returns how many bytes were written (errno tells why not
// all).
std::size_t write_all(int fd, std::string_view text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  return done;
}

}  // namespace

std::string audit_line(const AuditEvent& e, std::chrono::system_clock::time_point when,
                       std::string_view charset) {
  nlohmann::ordered_json j;
  j["ts"] = iso_time(when);
  j["event"] = e.type;
  for (const auto& f : e.fields) {
    if (const auto* n = std::get_if<std::int64_t>(&f.value)) {
      j[f.key] = *n;
    } else if (const auto* s = std::get_if<std::string>(&f.value)) {
      j[f.key] = text::to_utf8(*s, charset);
    } else if (const auto* b = std::get_if<bool>(&f.value)) {
      j[f.key] = *b;
    } else if (const auto* l = std::get_if<std::vector<std::string>>(&f.value)) {
      auto& a = j[f.key] = nlohmann::ordered_json::array();
      for (const auto& x : *l)
        a.push_back(text::to_utf8(x, charset));
    }
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

AuditLog::AuditLog(std::string path, std::string charset)
    : path_(std::move(path)), charset_(std::move(charset)) {
  fd_ = open_append(path_);
  if (fd_ < 0) throw std::runtime_error("cannot open audit log " + path_ + ": " + std::strerror(errno));
  thread_ = std::thread([this] { run(); });
}

AuditLog::~AuditLog() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  if (fd_ >= 0) ::close(fd_);
}

void AuditLog::write(AuditEvent e, std::chrono::system_clock::time_point when) {
  {
    std::lock_guard lock(mutex_);
    if (queue_.size() >= kMaxQueue) {
      ++counters_.dropped;
      return;
    }
    queue_.push_back({std::move(e), when});
  }
  wake_.notify_one();
}

void AuditLog::reopen() {
  {
    std::lock_guard lock(mutex_);
    reopen_ = true;
  }
  wake_.notify_one();
}

void AuditLog::drain() {
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [&] { return (queue_.empty() && !busy_ && !reopen_) || stopping_; });
}

void AuditLog::run() {
  bool failing = false;  // the last write failed (logged once per outage)
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || reopen_ || !queue_.empty(); });
    if (stopping_ && queue_.empty()) break;
    std::deque<Pending> batch;
    batch.swap(queue_);
    const bool reopen = reopen_;
    reopen_ = false;
    busy_ = true;
    lock.unlock();
    if (reopen) {
      const int fd = open_append(path_);
      if (fd < 0) {
        spdlog::error("audit log {}: cannot reopen ({}); still writing to the old file", path_,
                      std::strerror(errno));
      } else {
        ::close(fd_);
        fd_ = fd;
        ++counters_.reopens;
      }
    }
    std::string text;
    for (const auto& p : batch) {
      text += audit_line(p.event, p.when, charset_);
      text += '\n';
    }
    const std::size_t done = write_all(fd_, text);
    const int write_errno = errno;
    const auto complete = static_cast<std::uint64_t>(std::count(text.begin(), text.begin() + done, '\n'));
    counters_.lines += complete;
    if (done < text.size()) {
      counters_.errors += batch.size() - complete;
      if (!failing) spdlog::error("audit log {}: write failed: {}", path_, std::strerror(write_errno));
      failing = true;
      if (done > 0 && text[done - 1] != '\n') write_all(fd_, "\n");  // end the cut line
    } else if (failing && !text.empty()) {
      spdlog::info("audit log {}: writing again", path_);
      failing = false;
    }
    lock.lock();
    busy_ = false;
    idle_.notify_all();
  }
  busy_ = false;
  idle_.notify_all();
}

}  // namespace kaillera::relay::state

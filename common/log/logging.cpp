#include "common/log/logging.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace kaillera::log {

namespace {

// Appends formatted lines to a file that reopen() can swap for a new one at the same path.
class ReopenableFileSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit ReopenableFileSink(std::string path) : path_(std::move(path)) {}
  ~ReopenableFileSink() override {
    if (file_ != nullptr) std::fclose(file_);
  }

  // Opens the path (again); "" or the problem, leaving the current file in use.
  std::string open() {
    std::FILE* f = std::fopen(path_.c_str(), "ae");
    if (f == nullptr) return "cannot open the log file " + path_ + ": " + std::strerror(errno);
    std::lock_guard lock(mutex_);
    if (file_ != nullptr) std::fclose(file_);
    file_ = f;
    return {};
  }
  const std::string& path() const { return path_; }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    if (file_ == nullptr) return;
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    std::fwrite(formatted.data(), 1, formatted.size(), file_);
  }
  void flush_() override {
    if (file_ != nullptr) std::fflush(file_);
  }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};

std::mutex g_mutex;
std::shared_ptr<ReopenableFileSink> g_file;  // null when logging to stderr

}  // namespace

std::string setup(std::string_view name, const std::string& level, const std::string& file,
                  const std::string& pattern) {
  spdlog::sink_ptr sink;
  std::shared_ptr<ReopenableFileSink> file_sink;
  if (file.empty()) {
    sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  } else {
    file_sink = std::make_shared<ReopenableFileSink>(file);
    if (std::string problem = file_sink->open(); !problem.empty()) return problem;
    sink = file_sink;
  }
  auto logger = std::make_shared<spdlog::logger>(std::string(name), std::move(sink));
  if (!pattern.empty()) logger->set_pattern(pattern);
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::trace);  // every line reaches the file at once (tail -f, crashes)
  spdlog::set_default_logger(std::move(logger));
  std::lock_guard lock(g_mutex);
  g_file = std::move(file_sink);
  return {};
}

std::string reopen() {
  std::lock_guard lock(g_mutex);
  return g_file ? g_file->open() : std::string();
}

std::string file() {
  std::lock_guard lock(g_mutex);
  return g_file ? g_file->path() : std::string();
}

void set_level(const std::string& level) {
  spdlog::default_logger()->set_level(spdlog::level::from_str(level));
}

void reopen_and_say() {
  if (const std::string problem = reopen(); !problem.empty()) {
    spdlog::error("SIGHUP: {}; the log goes on to the old file", problem);
  } else if (const std::string path = file(); !path.empty()) {
    spdlog::info("SIGHUP: log file {} reopened", path);
  }
}

void log_reload(const std::vector<std::string>& changed, const std::vector<std::string>& restart,
                const std::string& config_file) {
  for (const auto& line : changed)
    spdlog::info("reload: {}", line);
  for (const auto& key : restart)
    spdlog::warn("reload: {} changed in {} but takes effect only after a restart; the running value stays",
                 key, config_file);
  if (changed.empty() && restart.empty()) spdlog::info("reload: nothing changed in {}", config_file);
}

}  // namespace kaillera::log

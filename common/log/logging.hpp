// The servers' logging (spdlog), shared by kaillera-relay and kaillera-master: to stderr by default, or with
// --log-file / log_file appended to a file, one flushed line at a time. reopen() closes that file and opens
// the same path again: log rotation renames the file and sends SIGHUP, and the next lines go to a new file at
// the path (docs/OPERATING.md "Health checks, logs and backups").
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace kaillera::log {

// Makes spdlog's default logger, named `name`, at `level` (a valid level name) with `pattern` (spdlog's
// default when empty): to stderr with colours on a terminal, or with a non-empty `file` appended to it.
// Returns "" or what is wrong ("cannot open the log file PATH: No such file or directory").
std::string setup(std::string_view name, const std::string& level, const std::string& file,
                  const std::string& pattern = {});

// Reopens the log file at its path. Returns "" (also when logging goes to stderr) or the problem; on a
// problem the old file stays in use.
std::string reopen();

// The file logs go to ("" for stderr).
std::string file();

// Sets the level of the default logger (a valid level name).
void set_level(const std::string& level);

// SIGHUP's first step in both servers: reopen() and one log line saying how it went (nothing without a file).
void reopen_and_say();

// The log lines of a config reload (SIGHUP): an info line per changed key ("reload: key: old -> new"), a warn
// line per key that needs a restart, or "reload: nothing changed in FILE".
void log_reload(const std::vector<std::string>& changed, const std::vector<std::string>& restart,
                const std::string& config_file);

}  // namespace kaillera::log

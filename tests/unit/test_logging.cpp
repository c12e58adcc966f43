// The servers' log file (common/log/logging.hpp): lines go to the file named by --log-file, reopen() after a
// rename (what logrotate does before its SIGHUP) sends the next lines to a new file at the path and none are
// lost or torn when other threads log meanwhile; a path that cannot be opened is a clear error and the old
// file stays in use; the level changes at runtime.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "common/log/logging.hpp"
#include "tests/support/process.hpp"

namespace {

namespace fs = std::filesystem;
using kf_test::lines_of;
using kf_test::read_file;
using kf_test::TempDir;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class LogFile : public ::testing::Test {
 protected:
  ~LogFile() override { kaillera::log::setup("test", "info", "", "%v"); }  // back to stderr: the dir goes
  TempDir dir_;
};

TEST_F(LogFile, ARenamedFileIsFollowedByANewOneAtThePathAfterReopen) {
  const std::string path = dir_ / "server.log";
  ASSERT_EQ(kaillera::log::setup("test", "info", path, "%l %v"), "");
  EXPECT_EQ(kaillera::log::file(), path);
  spdlog::info("before the rotation");
  fs::rename(path, path + ".1");
  spdlog::info("after the rename, before the reopen");
  EXPECT_FALSE(fs::exists(path));
  EXPECT_EQ(kaillera::log::reopen(), "");
  spdlog::error("after the reopen");

  EXPECT_EQ(read_file(path + ".1"), "info before the rotation\ninfo after the rename, before the reopen\n");
  EXPECT_EQ(read_file(path), "error after the reopen\n");
}

TEST_F(LogFile, LinesFromOtherThreadsAreNeitherLostNorTornAcrossReopens) {
  const std::string path = dir_ / "busy.log";
  ASSERT_EQ(kaillera::log::setup("test", "info", path, "%v"), "");
  constexpr int kThreads = 3, kLines = 3000;
  std::atomic<int> started{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ++started;
      for (int i = 0; i < kLines; ++i)
        spdlog::info("thread {} line {} {}", t, i, std::string(40, 'x'));
    });
  }
  while (started < kThreads)
    std::this_thread::yield();
  for (int rotation = 1; rotation <= 5; ++rotation) {
    fs::rename(path, path + "." + std::to_string(rotation));
    EXPECT_EQ(kaillera::log::reopen(), "");
  }
  for (auto& t : threads)
    t.join();

  std::vector<int> seen(kThreads * kLines, 0);
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir_.path())) {
    ++files;
    for (const auto& line : lines_of(read_file(e.path()))) {
      int t = -1, i = -1;
      char tail[64] = {};
      ASSERT_EQ(std::sscanf(line.c_str(), "thread %d line %d %63s", &t, &i, tail), 3) << line;
      ASSERT_EQ(std::string(tail), std::string(40, 'x')) << line;
      ++seen.at(static_cast<std::size_t>(t * kLines + i));
    }
  }
  EXPECT_EQ(files, 6);
  for (std::size_t n = 0; n < seen.size(); ++n)
    ASSERT_EQ(seen[n], 1) << "line " << n;
}

TEST_F(LogFile, APathThatCannotBeOpenedIsNamedAndTheOldFileStays) {
  EXPECT_EQ(kaillera::log::setup("test", "info", dir_ / "no-such-dir" / "x.log"),
            "cannot open the log file " + (dir_ / "no-such-dir" / "x.log").string() +
                ": No such file or directory");

  const std::string logs = dir_ / "logs";
  fs::create_directory(logs);
  ASSERT_EQ(kaillera::log::setup("test", "info", logs + "/server.log", "%v"), "");
  spdlog::info("one");
  fs::rename(logs, dir_ / "logs-moved");  // the directory is gone from under the path
  EXPECT_EQ(kaillera::log::reopen(),
            "cannot open the log file " + logs + "/server.log: No such file or directory");
  spdlog::info("two");
  EXPECT_EQ(read_file(dir_ / "logs-moved" / "server.log"), "one\ntwo\n");
}

TEST_F(LogFile, TheLevelChangesAtRuntime) {
  const std::string path = dir_ / "level.log";
  ASSERT_EQ(kaillera::log::setup("test", "info", path, "%v"), "");
  spdlog::debug("hidden");
  spdlog::info("shown");
  kaillera::log::set_level("debug");
  spdlog::debug("now shown");
  kaillera::log::set_level("error");
  spdlog::warn("hidden again");
  EXPECT_EQ(read_file(path), "shown\nnow shown\n");
  EXPECT_FALSE(contains(read_file(path), "hidden"));
}

}  // namespace

// The audit log: one JSON object per line, its time and event first and the fields in the order the core gave
// them, charset bytes turned into UTF-8; lines reach the file without a flush of ours; reopen() after a
// rename (logrotate) starts a fresh file at the path while the old one keeps its lines; failed writes are
// counted.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "relay/state/audit_log.hpp"
#include "tests/state/state_test_util.hpp"

namespace kaillera::relay::state {
namespace {

using namespace std::chrono_literals;
using kf_state_test::read_file;
using kf_state_test::TempDir;
using kf_test::lines_of;
using Json = nlohmann::ordered_json;

// 2026-12-03T10:40:55.123Z
const std::chrono::system_clock::time_point kWhen =
    std::chrono::sys_days{std::chrono::year{2026} / 12 / 3} + 10h + 40min + 55s + 123ms;

std::vector<std::string> keys_of(const Json& j) {
  std::vector<std::string> out;
  for (const auto& [k, v] : j.items())
    out.push_back(k);
  return out;
}

AuditEvent login(std::string name) {
  AuditEvent e;
  e.type = "login";
  e.num("user_id", 3).text("name", name).text("ip", "198.51.100.7").num("port", 50123).flag("staff", false);
  return e;
}

TEST(AuditLine, TimeAndEventComeFirstThenTheFieldsInOrder) {
  AuditEvent e;
  e.type = "staff";
  e.text("action", "ban")
      .num("issuer_id", 1)
      .text("issuer", "alice")
      .num("id", 12)
      .flag("permanent", false)
      .num("minutes", -1)
      .list("players", {"bob", "carol"})
      .flag("zz_last", true);
  const std::string line = audit_line(e, kWhen, "windows-1252");
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(line.rfind("{\"ts\":\"2026-12-03T10:40:55.123Z\",\"event\":\"staff\",\"action\":\"ban\",", 0), 0u)
      << line;

  const Json j = Json::parse(line);
  const std::vector<std::string> keys = {"ts", "event",     "action",  "issuer_id", "issuer",
                                         "id", "permanent", "minutes", "players",   "zz_last"};
  EXPECT_EQ(keys_of(j), keys);
  EXPECT_TRUE(j["issuer_id"].is_number_integer());
  EXPECT_EQ(j["id"], 12);
  EXPECT_EQ(j["minutes"], -1);
  EXPECT_TRUE(j["permanent"].is_boolean());
  EXPECT_EQ(j["permanent"], false);
  EXPECT_EQ(j["zz_last"], true);
  ASSERT_TRUE(j["players"].is_array());
  EXPECT_EQ(j["players"], Json::array({"bob", "carol"}));
}

TEST(AuditLine, MillisecondsAreTruncatedAndPadded) {
  EXPECT_EQ(Json::parse(audit_line(login("x"), kWhen + 999us, "utf-8"))["ts"], "2026-12-03T10:40:55.123Z");
  EXPECT_EQ(Json::parse(audit_line(login("x"), kWhen - 120ms, "utf-8"))["ts"], "2026-12-03T10:40:55.003Z");
  EXPECT_EQ(Json::parse(audit_line(login("x"), std::chrono::sys_days{std::chrono::year{2027} / 1 / 1},
                                   "utf-8"))["ts"],
            "2027-01-01T00:00:00.000Z");
}

TEST(AuditLine, CharsetBytesBecomeUtf8) {
  AuditEvent e;
  e.type = "chat";
  e.text("name", "\x82\xb6\x82\xe5\x82\x8e")  // じょｎ in Shift_JIS
      .text("message", "a\x81")               // a lone lead byte: replaced, not dropped
      .list("players", {"\x82\xa0", "ok", "\x83\x41\x83\x8a\x83\x58"})  // あ, ok, アリス
      .text("quoted", "he said \"hi\"\\\n\t\x01");
  const std::string line = audit_line(e, kWhen, "shift_jis");
  EXPECT_EQ(line.find('\n'), std::string::npos);  // the newline inside a field is escaped
  const Json j = Json::parse(line);
  EXPECT_EQ(j["name"], "じょｎ");
  EXPECT_EQ(j["message"], "a\xEF\xBF\xBD");
  EXPECT_EQ(j["players"], Json::array({"あ", "ok", "アリス"}));
  EXPECT_EQ(j["quoted"], "he said \"hi\"\\\n\t\x01");

  // The same bytes read as Windows-1252 are other characters: the charset decides.
  EXPECT_EQ(Json::parse(audit_line(e, kWhen, "windows-1252"))["players"][0], "\u201A\u00A0");
}

TEST(AuditLog, AppendsOneParsableLinePerEvent) {
  TempDir dir;
  const std::string path = dir / "audit.log";
  {
    std::ofstream old(path);
    old << "{\"ts\":\"earlier\",\"event\":\"login\"}\n";  // a file from the previous run: appended to
  }
  AuditLog log(path, "shift_jis");
  log.write(login("\x82\xb6\x82\xe5\x82\x8e"), kWhen);
  log.write(login("bob"), kWhen + 1s);
  AuditEvent out;
  out.type = "logout";
  out.num("user_id", 3).text("reason", "Ping timeout");
  log.write(out, kWhen + 2s);
  log.drain();
  EXPECT_EQ(log.counters().lines.load(), 3u);
  EXPECT_EQ(log.counters().errors.load(), 0u);

  // Drained means written: readable by another reader without closing the log.
  const auto lines = lines_of(read_file(path));
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(Json::parse(lines[0])["ts"], "earlier");
  const Json first = Json::parse(lines[1]);
  EXPECT_EQ(first["event"], "login");
  EXPECT_EQ(first["name"], "じょｎ");
  EXPECT_EQ(first["port"], 50123);
  EXPECT_EQ(keys_of(first),
            (std::vector<std::string>{"ts", "event", "user_id", "name", "ip", "port", "staff"}));
  EXPECT_EQ(Json::parse(lines[2])["ts"], "2026-12-03T10:40:56.123Z");
  EXPECT_EQ(Json::parse(lines[3])["reason"], "Ping timeout");
}

TEST(AuditLog, ReopenAfterARenameStartsAFreshFileAndTheOldKeepsItsLines) {
  TempDir dir;
  const std::string path = dir / "audit.log";
  const std::string rotated = dir / "audit.log.1";
  AuditLog log(path, "utf-8");
  log.write(login("before"), kWhen);
  log.drain();

  std::filesystem::rename(path, rotated);   // logrotate
  log.write(login("between"), kWhen + 1s);  // still the old file: reopen not asked yet
  log.drain();
  log.reopen();
  log.write(login("after"), kWhen + 2s);
  log.drain();
  EXPECT_EQ(log.counters().reopens.load(), 1u);
  EXPECT_EQ(log.counters().lines.load(), 3u);

  const auto old_lines = lines_of(read_file(rotated));
  ASSERT_EQ(old_lines.size(), 2u);
  EXPECT_EQ(Json::parse(old_lines[0])["name"], "before");
  EXPECT_EQ(Json::parse(old_lines[1])["name"], "between");
  const auto new_lines = lines_of(read_file(path));
  ASSERT_EQ(new_lines.size(), 1u);
  EXPECT_EQ(Json::parse(new_lines[0])["name"], "after");

  // A reopen with nothing queued still opens the new file (the next line goes there).
  std::filesystem::rename(path, dir / "audit.log.2");
  log.reopen();
  log.drain();
  EXPECT_TRUE(std::filesystem::exists(path));
  EXPECT_EQ(read_file(path), "");
  log.write(login("last"), kWhen + 3s);
  log.drain();
  ASSERT_EQ(lines_of(read_file(path)).size(), 1u);
  EXPECT_EQ(lines_of(read_file(dir / "audit.log.2")).size(), 1u);
}

TEST(AuditLog, ADestroyedLogHasWrittenEverythingQueued) {
  TempDir dir;
  const std::string path = dir / "audit.log";
  {
    AuditLog log(path, "utf-8");
    for (int i = 0; i < 1000; ++i) {
      AuditEvent e;
      e.type = "chat";
      e.num("n", i);
      log.write(std::move(e), kWhen);
    }
  }
  const auto lines = lines_of(read_file(path));
  ASSERT_EQ(lines.size(), 1000u);
  for (int i = 0; i < 1000; ++i)
    EXPECT_EQ(Json::parse(lines[static_cast<std::size_t>(i)])["n"], i);
}

TEST(AuditLog, FailedWritesAreCounted) {
  AuditLog log("/dev/full", "utf-8");  // every write fails with ENOSPC
  log.write(login("a"), kWhen);
  log.write(login("b"), kWhen);
  log.drain();
  EXPECT_EQ(log.counters().errors.load(), 2u);
  EXPECT_EQ(log.counters().lines.load(), 0u);
}

TEST(AuditLog, AnUnopenablePathThrowsNamingIt) {
  TempDir dir;
  const std::string path = dir / "no-such-dir/audit.log";
  try {
    AuditLog log(path, "utf-8");
    FAIL() << "opened " << path;
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kaillera::relay::state

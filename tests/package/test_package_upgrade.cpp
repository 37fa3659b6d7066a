// Going back to an older package after a newer lipsyncd migrated the job store: the daemon
// refuses the store with exit 78 (EX_CONFIG, which the unit does not restart on, so systemd does
// not loop every few seconds) and changes nothing in it; so do the commands beside it.

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>

#include "lipsyncd/spool/job_store.hpp"
#include "package_test_support.hpp"

namespace lipsyncd::test {
namespace {

namespace fs = std::filesystem;

int schema_version(const fs::path& database) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(database.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr);
  sqlite3_step(stmt);
  const int version = sqlite3_column_int(stmt, 0);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return version;
}

void set_schema_version(const fs::path& database, int version) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(database.c_str(), &db), SQLITE_OK);
  const std::string sql = "PRAGMA user_version = " + std::to_string(version);
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
}

TEST(Downgrade, ANewerJobStoreIsRefusedWithExit78AndLeftAsItIs) {
  TempDir dir;
  fs::create_directories(dir / "inbox");
  const auto config = dir / "lipsyncd.toml";
  std::ofstream(config) << "[paths]\ninbox = \"inbox\"\noutbox = \"outbox\"\ndone = \"done\"\n"
                           "error = \"error\"\nstate = \"state\"\n";
  { spool::open_job_store(spool::JobStoreSettings{dir / "state", "lipsync-1.9.0-beta"}); }
  const auto database = dir / "state" / "jobs.sqlite3";
  const int current = schema_version(database);
  ASSERT_GE(current, 1);
  set_schema_version(database, current + 1);  // what a newer lipsyncd would leave

  ChildOptions options;
  options.env.push_back("FAL_KEY=test-key");
  const std::string program = (bin_dir() / "lipsyncd").string();
  for (const auto& command : {std::string("run"), std::string("status")}) {
    const auto log = dir / (command + ".log");
    EXPECT_EQ(run_to_completion({program, command, "--config", config.string()}, log,
                                std::chrono::seconds(60), options),
              78)
        << command << ":\n"
        << read_text(log);
    const std::string output = read_text(log);
    EXPECT_NE(output.find("store_too_new"), std::string::npos) << output;
    EXPECT_NE(output.find("schema version " + std::to_string(current + 1)), std::string::npos)
        << output;
  }
  EXPECT_EQ(schema_version(database), current + 1) << "the refused store was changed";
}

}  // namespace
}  // namespace lipsyncd::test

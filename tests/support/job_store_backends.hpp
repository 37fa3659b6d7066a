#pragma once
// The job store backends the store's unit tests run against (TEST_P over these). A backend is
// how a test opens a store on a state folder, plus what a test needs to fake that a backend
// cannot be asked to do (a row lost to a crash): SQLite in the state folder, and PostgreSQL
// (fleet mode) on one throwaway server per test process (postgres_server.hpp), one database
// per state folder.

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "lipsyncd/spool/job_store.hpp"
#include "postgres_server.hpp"

namespace lipsyncd::test {

struct JobStoreBackend {
  std::string name;
  // Opens a store on settings.state_dir; a second call with the same folder reaches the same
  // jobs (a reopened store, or a second process).
  std::function<std::unique_ptr<spool::JobStore>(spool::JobStoreSettings)> open;
  // Deletes the job's row behind the store's back: what a crash between moving a claim's
  // inputs and inserting its row leaves.
  std::function<void(const std::filesystem::path& state_dir, const spool::JobId&)> forget_row;

  friend std::ostream& operator<<(std::ostream& out, const JobStoreBackend& backend) {
    return out << backend.name;
  }
};

inline void forget_sqlite_row(const std::filesystem::path& state_dir, const spool::JobId& id) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((state_dir / "jobs.sqlite3").c_str(), &db), SQLITE_OK);
  const std::string sql = "DELETE FROM jobs WHERE id = '" + id + "'";
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
}

// The test process's PostgreSQL server, started on first use (a process that runs only
// SQLite tests starts none) and stopped when the process exits.
inline PostgresServer& shared_postgres_server() {
  static const std::unique_ptr<PostgresServer> server = PostgresServer::start();
  return *server;
}

// The database of a state folder: created on the first open, so every test (every new
// folder) starts empty and every later open of the same folder reaches the same jobs.
inline std::string postgres_database_for(const std::filesystem::path& state_dir) {
  static std::mutex mutex;
  static std::map<std::filesystem::path, std::string> databases;
  const auto folder = state_dir.lexically_normal();
  std::lock_guard lock(mutex);
  auto& name = databases[folder];
  if (name.empty()) {
    name = "store_" + std::to_string(databases.size());
    shared_postgres_server().create_database(name);
  }
  return name;
}

inline std::unique_ptr<spool::JobStore> open_postgres_store(spool::JobStoreSettings settings) {
  settings.url = shared_postgres_server().url(postgres_database_for(settings.state_dir));
  return spool::open_job_store(std::move(settings));
}

inline void forget_postgres_row(const std::filesystem::path& state_dir, const spool::JobId& id) {
  shared_postgres_server().execute(postgres_database_for(state_dir),
                                   "DELETE FROM jobs WHERE id = $1", {id});
}

inline std::vector<JobStoreBackend> job_store_backends() {
  return {
      {"sqlite", [](spool::JobStoreSettings settings) { return spool::open_job_store(settings); },
       forget_sqlite_row},
      {"postgres", open_postgres_store, forget_postgres_row},
  };
}

// Runs step(store, i) for every i below `count` on four threads, two on each store (two
// connections, as two processes or fleet nodes have): for decisions that must hold in a race.
inline void race_on_two_stores(spool::JobStore& one, spool::JobStore& two, std::size_t count,
                               const std::function<void(spool::JobStore&, std::size_t)>& step) {
  constexpr std::size_t kThreads = 4;
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      spool::JobStore& store = (t % 2 == 0) ? one : two;
      for (std::size_t i = t; i < count; i += kThreads) step(store, i);
    });
  }
  for (auto& thread : threads) thread.join();
}

inline std::string backend_name(const testing::TestParamInfo<JobStoreBackend>& info) {
  return info.param.name;
}

}  // namespace lipsyncd::test

// What only the PostgreSQL job store has (fleet mode): its url rules, migrations that nodes
// starting at once can share, refusing a newer schema, and coming back by itself after the
// database went away. The behaviour every backend shares is tested in test_spool_job_store,
// test_spool_recovery and test_spool_spend_ledger.

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <latch>
#include <thread>

#include "job_store_backends.hpp"
#include "lipsyncd/spool/job_store.hpp"
#include "postgres_server.hpp"
#include "test_media.hpp"

namespace lipsyncd::spool {
namespace {

namespace fs = std::filesystem;

// The reason code of what `open` throws; "" when it throws nothing.
std::string reason_of(const std::function<void()>& open, std::string* message = nullptr) {
  try {
    open();
  } catch (const Error& e) {
    if (message != nullptr) *message = e.what();
    return e.reason_code();
  }
  return "";
}

class PostgresJobStoreTest : public testing::Test {
 protected:
  PostgresJobStoreTest() { fs::create_directories(dir_ / "inbox"); }

  std::unique_ptr<JobStore> open_store(const std::string& url) {
    JobStoreSettings settings{dir_ / "state", "lipsync-1.9.0-beta"};
    settings.url = url;
    return open_job_store(settings);
  }

  JobRequest drop_pair(const std::string& stem) {
    JobRequest request;
    request.name = stem;
    request.video = dir_ / "inbox" / (stem + ".mp4");
    request.audio = dir_ / "inbox" / (stem + ".wav");
    std::ofstream(request.video) << "video of " << stem;
    std::ofstream(request.audio) << "audio of " << stem;
    return request;
  }

  test::PostgresServer& server() { return test::shared_postgres_server(); }

  // A job ready to submit with this estimate, claimed through `store`.
  JobId uploaded(JobStore& store, const std::string& stem, double estimated_usd) {
    const auto id = store.claim(drop_pair(stem)).job.id;
    JobPlan plan;
    plan.estimated_usd = estimated_usd;
    store.mark_prepared(id, plan);
    store.mark_uploaded(id, {});
    return id;
  }

  // `nodes` stores on one database, one thread each, released at the same moment; node n
  // runs step(store, i) for i = n, n + nodes, ...: more connections at once than the shared
  // tests use, so a check-then-write without a lock shows.
  void race_nodes(const std::string& url, int nodes, int count,
                  const std::function<void(JobStore&, int)>& step) {
    std::vector<std::unique_ptr<JobStore>> stores;
    for (int n = 0; n < nodes; ++n) stores.push_back(open_store(url));
    std::latch start(nodes);
    std::vector<std::thread> threads;
    for (int n = 0; n < nodes; ++n) {
      threads.emplace_back([&, n] {
        start.arrive_and_wait();
        for (int i = n; i < count; i += nodes) step(*stores[static_cast<std::size_t>(n)], i);
      });
    }
    for (auto& thread : threads) thread.join();
  }

  test::TempDir dir_;
};

TEST_F(PostgresJobStoreTest, NodesStartingAtOnceMigrateTheEmptyDatabaseOnce) {
  server().create_database("fresh");
  constexpr int kNodes = 4;
  std::vector<std::string> reasons(kNodes);
  std::vector<std::thread> nodes;
  for (int i = 0; i < kNodes; ++i) {
    nodes.emplace_back(
        [&, i] { reasons[i] = reason_of([&] { open_store(server().url("fresh")); }); });
  }
  for (auto& node : nodes) node.join();
  for (int i = 0; i < kNodes; ++i) EXPECT_EQ(reasons[i], "") << "node " << i;

  EXPECT_EQ(server().execute("fresh",
                             "SELECT string_agg(version::text, ',' ORDER BY version) FROM "
                             "schema_migrations"),
            "1,2");
  // The fleet's columns and tables are there from the first version on.
  EXPECT_EQ(server().execute("fresh",
                             "SELECT count(*) FROM information_schema.columns WHERE table_name = "
                             "'jobs' AND column_name IN ('lease_node', 'lease_token', "
                             "'lease_expires_at', 'request_urls')"),
            "4");
  EXPECT_EQ(server().execute("fresh", "SELECT to_regclass('nodes') IS NOT NULL"), "t");
  // And the store works on what they built.
  auto store = open_store(server().url("fresh"));
  const auto id = store->claim(drop_pair("a")).job.id;
  EXPECT_EQ(store->get(id).state, JobState::accepted);
}

TEST_F(PostgresJobStoreTest, AVersion1DatabaseKeepsItsJobsAndGainsSegments) {
  server().create_database("v1");
  JobId old_job;
  {
    auto store = open_store(server().url("v1"));
    old_job = store->claim(drop_pair("old")).job.id;
    JobPlan plan;
    plan.reason = "before long-form jobs";
    store->mark_prepared(old_job, plan);
  }
  // What v2 added, undone: the database as a lipsyncd before long-form jobs left it.
  for (const char* undo : {"ALTER TABLE jobs DROP COLUMN parent_id",  // and its index
                           "ALTER TABLE jobs DROP COLUMN segment",
                           "DELETE FROM schema_migrations WHERE version = 2"}) {
    server().execute("v1", undo);
  }
  auto store = open_store(server().url("v1"));
  EXPECT_EQ(server().execute("v1",
                             "SELECT string_agg(version::text, ',' ORDER BY version) FROM "
                             "schema_migrations"),
            "1,2");
  const JobRecord old = store->get(old_job);
  EXPECT_EQ(old.state, JobState::prepared);
  EXPECT_FALSE(old.is_segment());
  ASSERT_TRUE(old.plan);
  EXPECT_EQ(old.plan->reason, "before long-form jobs");
  EXPECT_FALSE(old.plan->is_long_form());

  const JobRecord parent = store->claim(drop_pair("long")).job;
  JobPlan plan;
  plan.estimated_usd = 2.0;
  plan.segments = {
      {1, 0, 540, "pause", 1.0, parent.spool_dir / "s1.mp4", parent.spool_dir / "s1.wav"},
      {2, 540, 1080, "end", 1.0, parent.spool_dir / "s2.mp4", parent.spool_dir / "s2.wav"}};
  store->mark_prepared(parent.id, plan);
  store->start_segments(parent.id);
  const auto segments = store->segments_of(parent.id);
  ASSERT_EQ(segments.size(), 2u);
  EXPECT_EQ(segments[1].segment->parent_id, parent.id);
}

TEST_F(PostgresJobStoreTest, SixNodesRacingForTheLastDollarsReserveExactlyWhatFits) {
  server().create_database("budget");
  auto store = open_store(server().url("budget"));
  BudgetConfig budget;
  budget.daily_usd = 6.0;
  const auto first = uploaded(*store, "first", 1.0);
  store->mark_submitting(first, "fal-ai/sync-lipsync", budget);
  std::vector<JobId> ready;
  for (int i = 0; i < 30; ++i) ready.push_back(uploaded(*store, "j" + std::to_string(i), 1.0));
  std::atomic<int> reserved = 0, refused = 0, failures = 0;
  race_nodes(server().url("budget"), 6, 30, [&](JobStore& node, int i) {
    try {
      node.mark_submitting(ready[static_cast<std::size_t>(i)], "fal-ai/sync-lipsync", budget);
      ++reserved;
    } catch (const BudgetExceeded&) {
      ++refused;
    } catch (const Error&) {
      ++failures;
    }
  });
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(reserved, 5);
  EXPECT_EQ(refused, 25);
  EXPECT_DOUBLE_EQ(store->ledger().spend(store->now()).today_usd, 6.0);
}

TEST_F(PostgresJobStoreTest, SixNodesDecidingOnCopiesOfOneContentLetExactlyOneThrough) {
  server().create_database("copies");
  auto store = open_store(server().url("copies"));
  constexpr int kRounds = 3;
  constexpr int kCopies = 12;
  std::vector<std::vector<JobId>> copies(kRounds);
  for (int round = 0; round < kRounds; ++round) {
    for (int i = 0; i < kCopies; ++i) {
      auto request = drop_pair("r" + std::to_string(round) + "c" + std::to_string(i));
      std::ofstream(request.video) << "the same video of round " << round;
      std::ofstream(request.audio) << "the same audio";
      copies[static_cast<std::size_t>(round)].push_back(store->claim(request).job.id);
    }
  }
  for (int round = 0; round < kRounds; ++round) {
    std::atomic<int> proceeded = 0, failures = 0;
    race_nodes(server().url("copies"), 6, kCopies, [&](JobStore& node, int i) {
      try {
        const auto& id = copies[static_cast<std::size_t>(round)][static_cast<std::size_t>(i)];
        if (node.claim_content(id, std::chrono::hours(24)).verdict == ContentVerdict::proceed) {
          ++proceeded;
        }
      } catch (const Error&) {
        ++failures;
      }
    });
    EXPECT_EQ(failures, 0) << "round " << round;
    EXPECT_EQ(proceeded, 1) << "round " << round;
  }
}

TEST_F(PostgresJobStoreTest, ADatabaseMigratedByANewerLipsyncdIsRefused) {
  server().create_database("newer");
  open_store(server().url("newer"));
  server().execute("newer", "INSERT INTO schema_migrations (version, applied_at) VALUES (7, 0)");
  std::string message;
  EXPECT_EQ(reason_of([&] { open_store(server().url("newer")); }, &message), "store_too_new");
  EXPECT_NE(message.find("schema version 7"), std::string::npos) << message;
  EXPECT_NE(message.find("(2)"), std::string::npos) << message;
}

TEST_F(PostgresJobStoreTest, AUrlWithAPasswordIsRefusedWithoutShowingIt) {
  for (const std::string& url : std::vector<std::string>{
           "postgresql://lipsyncd:s3cret@127.0.0.1:" + std::to_string(server().port()) + "/db",
           "postgres://lipsyncd@127.0.0.1/db?password=s3cret&sslmode=disable"}) {
    std::string message;
    EXPECT_EQ(reason_of([&] { open_store(url); }, &message), "bad_config") << url;
    EXPECT_EQ(message.find("s3cret"), std::string::npos) << message;
    EXPECT_NE(message.find("password"), std::string::npos) << message;
  }
}

TEST_F(PostgresJobStoreTest, EachNodesConnectionCarriesItsNameForTheServersActivityView) {
  server().create_database("named");
  JobStoreSettings settings{dir_ / "state", "lipsync-1.9.0-beta"};
  settings.url = server().url("named");
  settings.node = "host-b";
  const auto store = open_job_store(settings);
  EXPECT_EQ(server().execute("postgres",
                             "SELECT count(*) FROM pg_stat_activity WHERE datname = 'named' AND "
                             "application_name = 'lipsyncd host-b'"),
            "1");
}

TEST_F(PostgresJobStoreTest, AUrlThatIsNotPostgresIsRefused) {
  EXPECT_EQ(reason_of([&] { open_store("mysql://lipsyncd@127.0.0.1/db"); }), "bad_config");
  EXPECT_EQ(reason_of([&] { open_store("postgresql://127.0.0.1/db?no_such_option=1"); }),
            "bad_config");
}

TEST_F(PostgresJobStoreTest, AServerThatIsNotThereIsUnreachableAndTransient) {
  auto other = test::PostgresServer::start();
  const std::string url = other->url("postgres");
  other->stop();
  try {
    open_store(url);
    ADD_FAILURE() << "opened a store on a stopped server";
  } catch (const Error& e) {
    EXPECT_EQ(e.reason_code(), "store_unreachable");
    EXPECT_TRUE(e.is_transient());
  }
}

TEST_F(PostgresJobStoreTest, AfterAnOutageTheSameStoreWorksAgainWithoutReopening) {
  auto own = test::PostgresServer::start();  // its own: this test stops it
  own->create_database("jobs");
  auto store = open_store(own->url("jobs"));
  const auto id = store->claim(drop_pair("a")).job.id;
  store->mark_prepared(id, {});

  // A restart between two calls is not even noticed: the stale connection is replaced.
  own->stop();
  own->start_again();
  EXPECT_EQ(store->get(id).state, JobState::prepared);

  own->stop();
  for (const auto& call :
       std::vector<std::function<void()>>{[&] { store->find(id); },  // the connection breaks
                                          [&] {
                                            store->mark_uploaded(id, {"v", "a"});
                                          },  // nothing to connect to
                                          [&] { store->ledger().spend(store->now()); }}) {
    try {
      call();
      ADD_FAILURE() << "a call succeeded while the database was down";
    } catch (const Error& e) {
      EXPECT_EQ(e.reason_code(), "store_unreachable") << e.what();
      EXPECT_TRUE(e.is_transient());
    }
  }

  own->start_again();
  EXPECT_EQ(store->get(id).state, JobState::prepared) << "nothing changed during the outage";
  EXPECT_EQ(store->mark_uploaded(id, {"v", "a"}).state, JobState::uploaded);
  const auto reopened = open_store(own->url("jobs"));
  EXPECT_EQ(reopened->get(id).state, JobState::uploaded);
  EXPECT_EQ(reopened->history(id).size(), 3u);  // accepted, prepared, uploaded: once each
}

}  // namespace
}  // namespace lipsyncd::spool

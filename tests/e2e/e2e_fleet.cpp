// Fleet mode (ctest label `fleet`): three `lipsyncd run` processes with distinct [fleet] node
// names, identical [paths] and one real PostgreSQL (tests/support/postgres_server.hpp), against
// one fal emulator. Every pair dropped becomes exactly one paid request and one delivery,
// whichever node claims it; a node killed with kill -9 leaves its jobs to the others after
// lease_s, never resubmitting; a fleet-wide cap admits exactly what it allows; and a 10 s
// database outage pauses the fleet without losing or doubling anything.

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <string>

#include "fleet_test.hpp"

namespace lipsyncd::test {
namespace {

using namespace std::chrono_literals;

using FleetE2E = FleetTest;

TEST_F(FleetE2E, ThreeNodesOnOneInboxDeliverEveryPairExactlyOnce) {
  constexpr int kPairs = 300;
  configure_fleet(30);
  start_nodes();
  drop_pairs(kPairs);
  ASSERT_TRUE(eventually([&] { return results_in_outbox() == kPairs; }, 420s))
      << results_in_outbox() << " of " << kPairs << " delivered\n"
      << last_lines();
  EXPECT_TRUE(eventually([&] { return names_in(done()).size() == 2 * kPairs; }, 30s));

  // Any node's `status` shows the whole fleet.
  const auto status = status_json();
  EXPECT_EQ(status.at("nodes").as_array().size(), kNodes.size()) << status;
  stop_all_nodes();

  EXPECT_EQ(requests_created(), static_cast<std::size_t>(kPairs)) << "paid more than once";
  EXPECT_EQ(submissions(), static_cast<std::size_t>(kPairs));
  expect_each_pair_delivered_once(kPairs);
  std::size_t total = 0;
  for (const auto& name : kNodes) {
    EXPECT_GT(delivered_by(name), 0u) << name << " did no work";
    total += delivered_by(name);
  }
  EXPECT_EQ(total, static_cast<std::size_t>(kPairs));
}

TEST_F(FleetE2E, AKilledNodesJobsAreFinishedByTheOthersWithoutResubmitting) {
  constexpr int kPairs = 300;
  configure_fleet(4);
  start_nodes();
  drop_pairs(kPairs);
  // Mid-flight: node-c has delivered some and holds more.
  ASSERT_TRUE(eventually([&] { return delivered_by("node-c") >= 10; }, 300s)) << last_lines();
  nodes.at("node-c")->signal(SIGKILL);
  ASSERT_TRUE(nodes.at("node-c")->wait_for_exit(10s).has_value());

  // The rest are delivered by node-a and node-b, except the submits node-c had in flight
  // without fal's answer recorded: held for a person, never sent again.
  const auto held_ambiguous = [&] { return held_for("ambiguous_submit"); };
  ASSERT_TRUE(eventually([&] { return results_in_outbox() + held_ambiguous() == kPairs; }, 420s))
      << results_in_outbox() << " delivered, " << held_ambiguous() << " held\n"
      << last_lines();
  const auto held = held_ambiguous();
  const auto took_over = [&](const std::string& name) {
    return nodes.at(name)->log().find("taken over from node node-c") != std::string::npos;
  };
  EXPECT_TRUE(took_over("node-a") || took_over("node-b")) << "nobody took over node-c's jobs";
  stop_all_nodes();

  // No resubmission: one request per submit POST, at most one per pair; the held ones are the
  // ones whose POST may have left before the kill.
  EXPECT_EQ(submissions(), requests_created());
  EXPECT_LE(requests_created(), static_cast<std::size_t>(kPairs));
  EXPECT_GE(requests_created(), results_in_outbox());
  EXPECT_LE(requests_created() - results_in_outbox(), held);
  for (int i = 0; i < kPairs; ++i) {
    const auto stem = "p" + std::to_string(i);
    const auto places = places_of(stem + ".mp4");
    EXPECT_EQ(places.size(), 1u) << stem << " is in " << places.size() << " places";
  }
}

TEST_F(FleetE2E, AFleetWideDailyCapAdmitsExactlyTheJobsItAllows) {
  constexpr int kAllowed = 6;
  constexpr int kPairs = 18;
  configure_fleet(30);
  const auto pair = make_small_pair(dir / "small");
  int code = -1;
  const auto check = run_cli({"check", pair.video.string(), pair.audio.string(), "--json"}, &code);
  ASSERT_EQ(code, 0) << check;
  const auto report = boost::json::parse(check).as_object();
  const double job_cost = report.at("output_duration_s").to_number<double>() / 60 *
                          report.at("usd_per_minute").to_number<double>();
  ASSERT_GT(job_cost, 0);
  settings["budget"]["daily_usd"] = std::to_string(kAllowed * job_cost * 1.0001);
  write_config();
  start_nodes();
  drop_pairs(kPairs);

  const auto held_for_budget = [&] { return held_for("budget_exceeded"); };
  ASSERT_TRUE(eventually(
      [&] { return results_in_outbox() == kAllowed && held_for_budget() == kPairs - kAllowed; },
      240s))
      << results_in_outbox() << " delivered, " << held_for_budget() << " held\n"
      << last_lines();
  stop_all_nodes();
  EXPECT_EQ(requests_created(), static_cast<std::size_t>(kAllowed));
  EXPECT_EQ(submissions(), static_cast<std::size_t>(kAllowed));
}

TEST_F(FleetE2E, ATenSecondDatabaseOutagePausesTheFleetWithoutLossOrDuplicates) {
  constexpr int kPairs = 150;
  configure_fleet(30);  // longer than the outage: nobody's lease expires meanwhile
  start_nodes();
  drop_pairs(kPairs);
  ASSERT_TRUE(eventually([&] { return results_in_outbox() >= kPairs / 4; }, 300s)) << last_lines();
  database->stop();
  std::this_thread::sleep_for(10s);
  database->start_again();

  ASSERT_TRUE(eventually([&] { return results_in_outbox() == kPairs; }, 420s))
      << results_in_outbox() << " of " << kPairs << " delivered\n"
      << last_lines();
  EXPECT_TRUE(eventually([&] { return names_in(done()).size() == 2 * kPairs; }, 60s));
  std::size_t noticed = 0;
  for (const auto& [name, node] : nodes) {
    noticed += node->log().find("cannot use the job store") != std::string::npos ? 1 : 0;
  }
  EXPECT_GT(noticed, 0u) << "no node noticed the outage: the test did not test it";
  stop_all_nodes();
  EXPECT_EQ(requests_created(), static_cast<std::size_t>(kPairs)) << "paid more than once";
  EXPECT_EQ(submissions(), static_cast<std::size_t>(kPairs));
  expect_each_pair_delivered_once(kPairs);
}

}  // namespace
}  // namespace lipsyncd::test

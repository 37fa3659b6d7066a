// Fleet mode's leases, on every backend: two stores with distinct node names share one
// database (two hosts), and an operator's store (no node) stands for `lipsyncd retry|cancel`.
// A node acts only on jobs it holds; a silent node's jobs are taken over with a new fencing
// token, and its late writes are refused; one drop seen by two nodes becomes one job.

#include <gtest/gtest.h>

#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "job_store_backends.hpp"
#include "lipsyncd/spool/job_store.hpp"
#include "test_media.hpp"

namespace lipsyncd::spool {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

constexpr seconds kLease{30};

class LeaseTest : public testing::TestWithParam<test::JobStoreBackend> {
 protected:
  LeaseTest() {
    fs::create_directories(inbox());
    a_ = open_node("node-a");
    b_ = open_node("node-b");
    person_ = open_node("");
  }

  fs::path inbox() const { return dir_ / "inbox"; }

  std::unique_ptr<JobStore> open_node(const std::string& node) {
    JobStoreSettings settings{dir_ / "state", "lipsync-1.9.0-beta", [this] { return now_; }};
    settings.inbox_dir = inbox();
    settings.node = node;
    settings.lease = kLease;
    return GetParam().open(std::move(settings));
  }

  JobRequest drop_pair(const std::string& stem) {
    JobRequest request;
    request.name = stem;
    request.video = inbox() / (stem + ".mp4");
    request.audio = inbox() / (stem + ".wav");
    std::ofstream(request.video, std::ios::binary) << "video of " << stem;
    std::ofstream(request.audio, std::ios::binary) << "audio of " << stem;
    return request;
  }

  JobId claim_on(JobStore& store, const std::string& stem) {
    return store.claim(drop_pair(stem)).job.id;
  }

  JobId uploaded_on(JobStore& store, const std::string& stem) {
    const auto id = claim_on(store, stem);
    JobPlan plan;
    plan.estimated_usd = 0.5;
    store.mark_prepared(id, plan);
    store.mark_uploaded(id, {"https://v.example/v.mp4", "https://v.example/a.wav"});
    return id;
  }

  void expect_lease_lost(const std::function<void()>& write) {
    try {
      write();
      ADD_FAILURE() << "the write went through";
    } catch (const Error& e) {
      EXPECT_EQ(e.reason_code(), kLeaseLostReason) << e.what();
    }
  }

  test::TempDir dir_;
  TimePoint now_ = std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
  std::unique_ptr<JobStore> a_;
  std::unique_ptr<JobStore> b_;
  std::unique_ptr<JobStore> person_;
};

INSTANTIATE_TEST_SUITE_P(Backends, LeaseTest, testing::ValuesIn(test::job_store_backends()),
                         test::backend_name);

TEST_P(LeaseTest, TheClaimingNodeHoldsTheJobAndAnotherLiveNodeCannotWriteIt) {
  const auto id = claim_on(*a_, "clip");
  const auto job = a_->get(id);
  EXPECT_EQ(job.lease.node, "node-a");
  EXPECT_EQ(job.lease.token, 1);
  ASSERT_TRUE(job.lease.expires_at);
  EXPECT_EQ(*job.lease.expires_at, job.updated_at + kLease);

  expect_lease_lost([&] { b_->mark_prepared(id, JobPlan{}); });
  EXPECT_EQ(a_->get(id).state, JobState::accepted);
  EXPECT_EQ(a_->mark_prepared(id, JobPlan{}).state, JobState::prepared);
}

TEST_P(LeaseTest, ASilentNodesJobIsTakenOverAndItsLateWritesAreRefused) {
  const auto id = uploaded_on(*a_, "clip");
  now_ += kLease + seconds(1);  // node-a went silent: no renewal

  const auto pickup = b_->take_due_jobs(10);
  ASSERT_EQ(pickup.due.size(), 1u);
  ASSERT_EQ(pickup.taken_over.size(), 1u);
  EXPECT_EQ(pickup.taken_over[0].taken_from, "node-a");
  EXPECT_EQ(pickup.due[0].lease.node, "node-b");
  EXPECT_EQ(pickup.due[0].lease.token, 2);

  // node-a comes back from its partition and tries to go on: fenced off, no submit intent.
  expect_lease_lost([&] { a_->mark_submitting(id, "fal-ai/sync-lipsync"); });
  EXPECT_EQ(b_->get(id).state, JobState::uploaded);
  EXPECT_FALSE(b_->get(id).submit_intent);
  EXPECT_EQ(b_->mark_submitting(id, "fal-ai/sync-lipsync").state, JobState::submitting);
}

TEST_P(LeaseTest, RenewedLeasesStayTheNodesOwn) {
  const auto id = claim_on(*a_, "clip");
  now_ += kLease - seconds(1);
  a_->renew_leases();
  now_ += seconds(2);  // past the first expiry, inside the renewed one
  EXPECT_TRUE(b_->take_due_jobs(10).due.empty());
  expect_lease_lost([&] { b_->mark_prepared(id, JobPlan{}); });
  EXPECT_EQ(a_->mark_prepared(id, JobPlan{}).lease.node, "node-a");
}

TEST_P(LeaseTest, ASubmitInFlightOnASilentNodeIsHeldNeverResent) {
  const auto id = uploaded_on(*a_, "clip");
  a_->mark_submitting(id, "fal-ai/sync-lipsync");
  now_ += kLease + seconds(1);

  const auto pickup = b_->take_due_jobs(10);
  EXPECT_TRUE(pickup.due.empty());
  ASSERT_EQ(pickup.needs_attention.size(), 1u);
  EXPECT_EQ(pickup.needs_attention[0].taken_from, "node-a");
  const auto held = b_->get(id);
  EXPECT_EQ(held.state, JobState::held);
  EXPECT_EQ(held.hold_reason, HoldReason::ambiguous_submit);
  EXPECT_NE(held.error->message.find("node node-a went silent"), std::string::npos);
  EXPECT_TRUE(held.lease.node.empty());  // parked: nobody's
  // node-a's answer from fal arrives late: refused, the hold stands for a person.
  expect_lease_lost([&] { a_->mark_submitted(id, "req-late"); });
  EXPECT_EQ(b_->get(id).state, JobState::held);
}

TEST_P(LeaseTest, ParkedJobsAreNobodysAndAnyNodeTakesThemWhenDue) {
  const auto id = claim_on(*a_, "clip");
  a_->defer(id, JobError{"prepare", "disk_error", "no space", ""}, now_ + seconds(60));
  EXPECT_TRUE(a_->get(id).lease.node.empty());
  EXPECT_TRUE(b_->take_due_jobs(10).due.empty());  // not due yet

  now_ += seconds(61);
  const auto pickup = b_->take_due_jobs(10);
  ASSERT_EQ(pickup.due.size(), 1u);
  EXPECT_TRUE(pickup.taken_over.empty());  // nobody held it: no takeover
  EXPECT_EQ(b_->resume(id).lease.node, "node-b");
  expect_lease_lost([&] { a_->resume(id); });
}

TEST_P(LeaseTest, APersonsCancelRevokesTheLeaseSoTheHolderStops) {
  const auto id = claim_on(*a_, "clip");
  EXPECT_EQ(person_->cancel(id, "not needed").state, JobState::cancelled);
  expect_lease_lost([&] { a_->mark_prepared(id, JobPlan{}); });
  EXPECT_EQ(a_->get(id).state, JobState::cancelled);
}

TEST_P(LeaseTest, APersonsRetryHandsTheJobToWhicheverNodePicksItUp) {
  const auto id = claim_on(*a_, "clip");
  a_->fail(id, JobError{"prepare", "no_face", "no face", ""});
  person_->retry(id);
  EXPECT_TRUE(a_->get(id).lease.node.empty());
  const auto pickup = b_->take_due_jobs(10);
  ASSERT_EQ(pickup.due.size(), 1u);
  EXPECT_EQ(pickup.due[0].id, id);
  EXPECT_EQ(pickup.due[0].lease.node, "node-b");
}

TEST_P(LeaseTest, PickupReturnsTheNodesOwnJobsAndAtMostTheLimitOfFreeOnes) {
  const auto mine = claim_on(*b_, "mine");
  std::vector<JobId> free_jobs;
  for (int i = 0; i < 5; ++i) {
    const auto id = claim_on(*a_, "free" + std::to_string(i));
    a_->defer(id, JobError{"upload", "fal_unavailable", "503", ""}, now_);
    free_jobs.push_back(id);
  }
  const auto live_on_a = claim_on(*a_, "busy");
  const auto held = claim_on(*a_, "held");
  a_->hold(held, HoldReason::operator_request, "wait");

  const auto pickup = b_->take_due_jobs(2);
  std::set<JobId> due;
  for (const auto& job : pickup.due) due.insert(job.id);
  EXPECT_EQ(due.size(), 3u);
  EXPECT_TRUE(due.contains(mine));
  EXPECT_FALSE(due.contains(live_on_a));
  EXPECT_FALSE(due.contains(held));
  // The rest are left for the other nodes, and taken on the next pickups.
  EXPECT_EQ(b_->take_due_jobs(10).due.size(), 6u);
}

TEST_P(LeaseTest, TwoNodesPickingUpAtOnceNeverTakeTheSameJob) {
  constexpr std::size_t kJobs = 40;
  std::vector<JobId> ids;
  for (std::size_t i = 0; i < kJobs; ++i) {
    const auto id = claim_on(*person_, "job" + std::to_string(i));  // nobody's
    ids.push_back(id);
  }
  std::mutex mutex;
  std::map<JobId, std::string> taken_by;
  int doubles = 0;
  test::race_on_two_stores(*a_, *b_, 20, [&](JobStore& store, std::size_t) {
    for (const auto& job : store.take_due_jobs(3).due) {
      if (job.lease.node != store.node()) continue;
      std::lock_guard lock(mutex);
      const auto [it, fresh] = taken_by.emplace(job.id, store.node());
      if (!fresh && it->second != store.node()) ++doubles;
    }
  });
  EXPECT_EQ(doubles, 0);
  EXPECT_EQ(taken_by.size(), kJobs);
  for (const auto& id : ids) EXPECT_EQ(a_->get(id).lease.node, taken_by[id]) << id;
}

TEST_P(LeaseTest, OneDropSeenByTwoNodesAtOnceBecomesOneJobAndTheLoserLeavesTheFilesAlone) {
  constexpr std::size_t kPairs = 24;
  std::vector<JobRequest> requests;
  for (std::size_t i = 0; i < kPairs; ++i)
    requests.push_back(drop_pair("clip" + std::to_string(i)));
  std::mutex mutex;
  std::map<std::string, int> outcomes;
  // Every pair is claimed by both nodes at once (race_on_two_stores runs each index on one
  // store: run it twice, crossed, so each pair meets both).
  for (int round = 0; round < 2; ++round) {
    test::race_on_two_stores(round == 0 ? *a_ : *b_, round == 0 ? *b_ : *a_, kPairs * 2,
                             [&](JobStore& store, std::size_t i) {
                               std::string outcome = "claimed";
                               try {
                                 store.claim(requests[i / 2]);
                               } catch (const Error& e) {
                                 outcome = e.reason_code();
                               }
                               std::lock_guard lock(mutex);
                               ++outcomes[outcome];
                             });
  }
  EXPECT_EQ(outcomes["claimed"], static_cast<int>(kPairs)) << "one job per pair";
  // The losers saw the files gone, or lost the claim key: neither touches the winner's files.
  EXPECT_EQ(outcomes["claimed"] + outcomes[std::string(kClaimedElsewhereReason)] +
                outcomes["input_vanished"],
            static_cast<int>(4 * kPairs));
  const auto jobs = a_->unfinished();
  ASSERT_EQ(jobs.size(), kPairs);
  for (const auto& job : jobs) {
    EXPECT_TRUE(fs::exists(job.video.path)) << job.name;
    EXPECT_TRUE(fs::exists(job.audio.path)) << job.name;
  }
  std::size_t spool_folders = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(a_->spool_root())) {
    ++spool_folders;
  }
  EXPECT_EQ(spool_folders, kPairs) << "no half claim left behind";
  EXPECT_TRUE(fs::is_empty(inbox()));
}

TEST_P(LeaseTest, TheClaimKeyDecidesWhichNodeTakesTheFiles) {
  const auto request = drop_pair("clip");
  // node-a holds the key of exactly these files (it is rejecting them) and has not moved them.
  ASSERT_TRUE(a_->claim_for_rejection(request.files()));
  try {
    b_->claim(request);
    ADD_FAILURE() << "node-b claimed files node-a holds the key of";
  } catch (const Error& e) {
    EXPECT_EQ(e.reason_code(), kClaimedElsewhereReason) << e.what();
  }
  EXPECT_FALSE(b_->claim_for_rejection(request.files()));
  EXPECT_TRUE(fs::exists(request.video));
  EXPECT_TRUE(fs::exists(request.audio));
  EXPECT_TRUE(b_->unfinished().empty());
  EXPECT_TRUE(fs::is_empty(b_->spool_root())) << "the loser left a folder behind";
  // The key only guards the moment: once it lapses, the files are anyone's again.
  now_ += std::chrono::minutes(11);
  EXPECT_EQ(b_->claim(request).job.lease.node, "node-b");
}

TEST_P(LeaseTest, TheSameNameDroppedAgainLaterIsANewClaim) {
  claim_on(*a_, "clip");
  now_ += std::chrono::minutes(1);
  // A new file under the same name: another identity (mtime, and usually the inode).
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_NO_THROW(claim_on(*b_, "clip"));
  EXPECT_EQ(a_->unfinished().size(), 2u);
}

TEST_P(LeaseTest, NodesListTheirHeartbeatsAndHowManyJobsTheyHold) {
  claim_on(*a_, "one");
  claim_on(*a_, "two");
  a_->renew_leases();
  now_ += seconds(5);
  b_->renew_leases();
  const auto nodes = person_->nodes();
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_EQ(nodes[0].node, "node-a");
  EXPECT_EQ(nodes[0].leased_jobs, 2);
  EXPECT_EQ(nodes[0].heartbeat_at, now_ - seconds(5));
  EXPECT_EQ(nodes[1].node, "node-b");
  EXPECT_EQ(nodes[1].leased_jobs, 0);
  const auto rows = person_->status();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].node, "node-a");
}

TEST_P(LeaseTest, RecoveryLeavesALiveNodesJobsAlone) {
  const auto submitting = uploaded_on(*a_, "clip");
  a_->mark_submitting(submitting, "fal-ai/sync-lipsync");
  const auto recovery = b_->recover();  // node-b starts while node-a works
  EXPECT_TRUE(recovery.needs_attention.empty());
  EXPECT_TRUE(recovery.resume.empty());
  EXPECT_EQ(a_->get(submitting).state, JobState::submitting);
  EXPECT_EQ(a_->mark_submitted(submitting, "req-1").state, JobState::submitted);
}

TEST_P(LeaseTest, ARestartedNodeTakesBackItsOwnJobs) {
  const auto id = uploaded_on(*a_, "clip");
  a_->mark_submitting(id, "fal-ai/sync-lipsync");
  a_.reset();  // kill -9
  auto again = open_node("node-a");
  const auto recovery = again->recover();
  ASSERT_EQ(recovery.needs_attention.size(), 1u);
  EXPECT_EQ(again->get(id).hold_reason, HoldReason::ambiguous_submit);
}

}  // namespace
}  // namespace lipsyncd::spool

// Start-up after a crash: interrupted claims are finished or undone, ambiguous submits are
// parked for a person, and every unfinished job is listed once, in the right list. On every
// job store backend.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "job_store_backends.hpp"
#include "lipsyncd/spool/job_store.hpp"
#include "test_media.hpp"

namespace lipsyncd::spool {
namespace {

namespace fs = std::filesystem;

void write_bytes(const fs::path& file, const std::string& bytes) {
  fs::create_directories(file.parent_path());
  std::ofstream(file, std::ios::binary) << bytes;
}

std::vector<JobId> ids(const std::vector<JobRecord>& jobs) {
  std::vector<JobId> result;
  for (const auto& job : jobs) result.push_back(job.id);
  return result;
}

class RecoveryTest : public testing::TestWithParam<test::JobStoreBackend> {
 protected:
  RecoveryTest() { fs::create_directories(inbox()); }
  fs::path inbox() const { return dir_ / "inbox"; }

  std::unique_ptr<JobStore> open_store() {
    return GetParam().open(JobStoreSettings{dir_ / "state", "lipsync-1.9.0-beta"});
  }

  JobRequest drop_pair(const std::string& stem) {
    JobRequest request;
    request.name = stem;
    request.video = inbox() / (stem + ".mp4");
    request.audio = inbox() / (stem + ".wav");
    write_bytes(request.video, "video of " + stem);
    write_bytes(request.audio, "audio of " + stem);
    return request;
  }

  // What a crash between moving the inputs and inserting the row leaves behind.
  void forget_row(const JobId& id) { GetParam().forget_row(dir_ / "state", id); }

  test::TempDir dir_;
};

INSTANTIATE_TEST_SUITE_P(Backends, RecoveryTest, testing::ValuesIn(test::job_store_backends()),
                         test::backend_name);

TEST_P(RecoveryTest, EveryUnfinishedJobLandsInTheRightList) {
  JobId accepted, prepared, submitting, submitted, deferred_at_fal, held, completed, delivered;
  {
    auto store = open_store();
    accepted = store->claim(drop_pair("accepted")).job.id;
    prepared = store->claim(drop_pair("prepared")).job.id;
    store->mark_prepared(prepared, {});

    const auto to_uploaded = [&](const std::string& stem) {
      const auto id = store->claim(drop_pair(stem)).job.id;
      store->mark_prepared(id, {});
      store->mark_uploaded(id, {"v", "a"});
      return id;
    };
    submitting = to_uploaded("submitting");
    store->mark_submitting(submitting, "fal-ai/sync-lipsync");  // ...and then kill -9
    submitted = to_uploaded("submitted");
    store->mark_submitting(submitted, "fal-ai/sync-lipsync");
    store->mark_submitted(submitted, "req-1");
    deferred_at_fal = to_uploaded("deferred");
    store->mark_submitting(deferred_at_fal, "fal-ai/sync-lipsync");
    store->mark_submitted(deferred_at_fal, "req-2");
    store->defer(deferred_at_fal, {"poll", "timeout", "fal slow", ""}, store->now());
    held = to_uploaded("held");
    store->hold(held, HoldReason::budget, "daily cap");
    completed = to_uploaded("completed");
    store->mark_submitting(completed, "fal-ai/sync-lipsync");
    store->mark_submitted(completed, "req-3");
    store->mark_completed(completed, {"https://out", 10, std::nullopt, std::nullopt});
    delivered = store->claim(drop_pair("delivered")).job.id;
    store->mark_prepared(delivered, {});
    store->mark_completed(delivered, {"https://out", 10, std::nullopt, std::nullopt});
    store->mark_delivered(delivered, {"/outbox/x.mp4"});
  }

  auto store = open_store();
  const Recovery recovery = store->recover();

  using testing::UnorderedElementsAre;
  EXPECT_THAT(ids(recovery.poll), UnorderedElementsAre(submitted, deferred_at_fal));
  EXPECT_THAT(ids(recovery.resume), UnorderedElementsAre(accepted, prepared, completed));
  EXPECT_THAT(ids(recovery.held), UnorderedElementsAre(held));
  ASSERT_THAT(ids(recovery.needs_attention), UnorderedElementsAre(submitting));
  EXPECT_TRUE(recovery.reclaimed.empty());

  // Never resubmitted by itself: parked for a person, with what to do in the history.
  const JobRecord parked = store->get(submitting);
  EXPECT_EQ(parked.state, JobState::held);
  EXPECT_EQ(parked.hold_reason, HoldReason::ambiguous_submit);
  EXPECT_EQ(parked.stage(), JobState::uploaded);
  EXPECT_TRUE(parked.submit_intent);
  EXPECT_THAT(store->history(submitting).back().detail, testing::HasSubstr("lipsyncd retry"));
  EXPECT_TRUE(store->held_for_budget().size() == 1);
  // A second start finds it held, not ambiguous again.
  const Recovery again = store->recover();
  EXPECT_TRUE(again.needs_attention.empty());
  EXPECT_THAT(ids(again.held), UnorderedElementsAre(held, submitting));
}

TEST_P(RecoveryTest, AClaimInterruptedAfterItsManifestIsFinishedOnStart) {
  JobRequest request = drop_pair("clip");
  JobRecord claimed;
  {
    auto store = open_store();
    claimed = store->claim(request).job;
  }
  // Crash after moving the video but before moving the audio and inserting the row.
  forget_row(claimed.id);
  fs::rename(claimed.audio.path, request.audio);

  auto store = open_store();
  const Recovery recovery = store->recover();

  EXPECT_THAT(recovery.reclaimed, testing::ElementsAre(claimed.id));
  ASSERT_THAT(ids(recovery.resume), testing::ElementsAre(claimed.id));
  EXPECT_FALSE(fs::exists(request.audio));
  EXPECT_TRUE(fs::exists(claimed.audio.path));
  const JobRecord job = store->get(claimed.id);
  EXPECT_EQ(job.state, JobState::accepted);
  EXPECT_EQ(job.content_hash, claimed.content_hash);
  EXPECT_EQ(job.created_at, claimed.created_at);
}

TEST_P(RecoveryTest, AClaimWhoseInputVanishedIsUndoneSoIntakeSeesTheRestAgain) {
  JobRequest request = drop_pair("clip");
  JobRecord claimed;
  {
    auto store = open_store();
    claimed = store->claim(request).job;
  }
  forget_row(claimed.id);
  fs::remove(claimed.audio.path);  // and the user deleted the audio meanwhile

  auto store = open_store();
  const Recovery recovery = store->recover();

  EXPECT_TRUE(recovery.reclaimed.empty());
  EXPECT_TRUE(recovery.resume.empty());
  EXPECT_TRUE(fs::exists(request.video));  // back in the inbox
  EXPECT_FALSE(fs::exists(claimed.spool_dir));
}

TEST_P(RecoveryTest, AJobFolderWithoutAManifestIsRemoved) {
  auto store = open_store();
  const fs::path stray = store->spool_root() / "20261125T000000.000Z-abcdef";
  fs::create_directories(stray / "inputs");
  // An hour old: on a fleet's shared spool a fresh one may be another node's claim starting.
  fs::last_write_time(stray, fs::file_time_type::clock::now() - std::chrono::hours(1));
  const Recovery recovery = store->recover();
  EXPECT_TRUE(recovery.reclaimed.empty());
  EXPECT_FALSE(fs::exists(stray));
}

TEST_P(RecoveryTest, LeftoversOfFinalJobsAndInterruptedWritesAreRemovedOnStart) {
  auto store = open_store();
  // Unfinished, killed while downloading: the temporary of the download is stale.
  const auto running = store->claim(drop_pair("running")).job;
  write_bytes(running.spool_dir / ".result.mp4.123456.tmp", "half a download");
  write_bytes(running.spool_dir / "prepared/.video.mp4.42.tmp", "half a remux");
  write_bytes(running.spool_dir / "prepared/video.mp4", "a finished remux");
  // Failed after its result was downloaded: the result stays for `lipsyncd retry`.
  const auto paid = store->claim(drop_pair("paid")).job;
  store->mark_prepared(paid.id, {});
  store->mark_uploaded(paid.id, {"u", "v"});
  store->mark_submitting(paid.id, "fal-ai/sync-lipsync");
  store->mark_submitted(paid.id, "req-paid");
  store->mark_completed(paid.id, {"https://fal.example/out.mp4", 5, std::nullopt, std::nullopt});
  write_bytes(paid.result_file(), "paid result");
  write_bytes(paid.spool_dir / "prepared/video.mp4", "normalized input");
  fs::remove_all(paid.spool_dir / "inputs");  // moved to error/ when it failed
  store->fail(paid.id, {"deliver", "disk_error", "outbox unusable", ""});
  // Cancelled and failed before paying: nothing is needed any more.
  const auto cancelled = store->claim(drop_pair("cancelled")).job;
  write_bytes(cancelled.spool_dir / "prepared/video.mp4", "normalized input");
  fs::remove_all(cancelled.spool_dir / "inputs");
  store->cancel(cancelled.id, "test");
  store.reset();

  store = open_store();
  const auto recovery = store->recover();
  EXPECT_EQ(recovery.removed_temporaries, 2);
  EXPECT_FALSE(fs::exists(running.spool_dir / ".result.mp4.123456.tmp"));
  EXPECT_FALSE(fs::exists(running.spool_dir / "prepared/.video.mp4.42.tmp"));
  EXPECT_TRUE(fs::exists(running.spool_dir / "prepared/video.mp4"));
  EXPECT_TRUE(fs::exists(running.video.path));
  EXPECT_TRUE(fs::exists(paid.result_file()));
  EXPECT_FALSE(fs::exists(paid.spool_dir / "prepared"));
  EXPECT_FALSE(fs::exists(cancelled.spool_dir));
  EXPECT_EQ(recovery.tidied_folders, 1);
}

TEST_P(RecoveryTest, AFinalJobsInputsStillInTheSpoolAreNeverRemoved) {
  auto store = open_store();
  const auto job = store->claim(drop_pair("kept")).job;
  store->cancel(job.id, "inputs could not be moved to error/");
  store.reset();
  store = open_store();
  store->recover();
  EXPECT_TRUE(fs::exists(job.video.path));
  EXPECT_TRUE(fs::exists(job.audio.path));
}

}  // namespace
}  // namespace lipsyncd::spool

// Long-form jobs in the job store, on every backend: a prepared job with a segment plan starts
// one child job per segment in one transaction that reserves the whole purchase (the cap
// checked first), segments reserve nothing themselves, and fail, cancel, retry and status
// treat the job with its segments, without ever paying a segment twice.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "job_store_backends.hpp"
#include "lipsyncd/spool/job_store.hpp"
#include "lipsyncd/spool/spool_cleanup.hpp"
#include "test_media.hpp"

namespace lipsyncd::spool {
namespace {

namespace fs = std::filesystem;
using std::chrono::hours;
using std::chrono::seconds;
using testing::ElementsAre;

void write_bytes(const fs::path& file, const std::string& bytes) {
  fs::create_directories(file.parent_path());
  std::ofstream(file, std::ios::binary) << bytes;
}

std::vector<JobId> ids(const std::vector<JobRecord>& jobs) {
  std::vector<JobId> result;
  for (const auto& job : jobs) result.push_back(job.id);
  return result;
}

std::vector<JobState> states(const std::vector<JobRecord>& jobs) {
  std::vector<JobState> result;
  for (const auto& job : jobs) result.push_back(job.state);
  return result;
}

BudgetConfig daily_cap(double usd) {
  BudgetConfig cap;
  cap.daily_usd = usd;
  return cap;
}

class SegmentsTest : public testing::TestWithParam<test::JobStoreBackend> {
 protected:
  SegmentsTest() : store_(open_store()) { fs::create_directories(dir_ / "inbox"); }

  std::unique_ptr<JobStore> open_store(const std::string& node = "") {
    JobStoreSettings settings{dir_ / "state", "lipsync-1.9.0-beta", [this] { return now_; }};
    settings.node = node;
    return GetParam().open(std::move(settings));
  }

  JobRequest drop_pair(const std::string& stem) {
    JobRequest request;
    request.name = stem;
    request.model = "lipsync-2";
    request.video = dir_ / "inbox" / (stem + ".mp4");
    request.audio = dir_ / "inbox" / (stem + ".wav");
    write_bytes(request.video, "video of " + stem);
    write_bytes(request.audio, "audio of " + stem);
    return request;
  }

  // A prepared long-form job whose segments cost `estimates` (540 s each), its plan's
  // estimate their sum; the segment files exist in its folder.
  JobRecord prepared_long_form(const std::string& stem, const std::vector<double>& estimates,
                               JobStore* store = nullptr) {
    JobStore& through = store != nullptr ? *store : *store_;
    const JobRecord claimed = through.claim(drop_pair(stem)).job;
    JobPlan plan;
    plan.sync_mode = SyncMode::loop;
    plan.reason = "audio longer";
    plan.model = "lipsync-2";
    plan.usd_per_minute = 0.1;
    plan.normalized_video = claimed.spool_dir / "prepared" / "video.mp4";
    plan.normalized_audio = claimed.spool_dir / "prepared" / "audio.wav";
    for (std::size_t i = 0; i < estimates.size(); ++i) {
      const int index = static_cast<int>(i) + 1;
      SegmentPlan segment;
      segment.index = index;
      segment.start_s = 540.0 * static_cast<double>(i);
      segment.end_s = segment.start_s + 540.0;
      segment.cut_reason = "pause at " + std::to_string(segment.end_s);
      segment.estimated_usd = estimates[i];
      segment.video =
          claimed.spool_dir / "prepared" / ("segment-" + std::to_string(index) + ".mp4");
      segment.audio =
          claimed.spool_dir / "prepared" / ("segment-" + std::to_string(index) + ".wav");
      write_bytes(segment.video, "v");
      write_bytes(segment.audio, "a");
      plan.estimated_usd += estimates[i];
      plan.output_s = segment.end_s;
      plan.segments.push_back(segment);
    }
    plan.video_s = plan.output_s;
    plan.audio_s = plan.output_s;
    return through.mark_prepared(claimed.id, plan);
  }

  // A normal job that went to fal with this estimate: spend counted before the long job.
  void spend_on_another_job(double usd) {
    const auto id = store_->claim(drop_pair("other" + std::to_string(++others_))).job.id;
    JobPlan plan;
    plan.estimated_usd = usd;
    store_->mark_prepared(id, plan);
    store_->mark_uploaded(id, {});
    store_->mark_submitting(id, "fal-ai/sync-lipsync");
  }

  JobRecord submit_segment(const JobId& id, const std::string& request_id) {
    store_->mark_uploaded(id, {"https://fal/v", "https://fal/a"});
    store_->mark_submitting(id, "fal-ai/sync-lipsync/v2");
    return store_->mark_submitted(id, request_id);
  }

  double spent_today() const { return store_->ledger().spend(now_).today_usd; }

  test::TempDir dir_;
  TimePoint now_ = TimePoint(std::chrono::sys_days{std::chrono::year{2026} / 11 / 25}) + hours(6);
  std::unique_ptr<JobStore> store_;
  int others_ = 0;
};

INSTANTIATE_TEST_SUITE_P(Backends, SegmentsTest, testing::ValuesIn(test::job_store_backends()),
                         test::backend_name);

TEST_P(SegmentsTest, StartingSegmentsInsertsOnePreparedChildPerSegmentAndReservesTheWhole) {
  const JobRecord parent = prepared_long_form("talk", {0.9, 0.9, 0.45});
  now_ += seconds(3);
  const JobRecord segmented = store_->start_segments(parent.id);

  EXPECT_EQ(segmented.state, JobState::segmented);
  EXPECT_DOUBLE_EQ(spent_today(), 2.25);
  const auto segments = store_->segments_of(parent.id);
  ASSERT_EQ(segments.size(), 3u);
  EXPECT_THAT(ids(segments),
              ElementsAre(parent.id + "-s01", parent.id + "-s02", parent.id + "-s03"));
  const JobRecord& second = segments[1];
  EXPECT_EQ(second.state, JobState::prepared);
  EXPECT_TRUE(second.is_segment());
  EXPECT_EQ(second.name, "talk");
  EXPECT_EQ(second.options.model, "lipsync-2");
  EXPECT_TRUE(second.content_hash.empty());
  EXPECT_EQ(second.spool_dir, parent.spool_dir / "segments" / "02");
  EXPECT_TRUE(fs::is_directory(second.spool_dir));
  EXPECT_EQ(second.video.path, parent.spool_dir / "prepared" / "segment-2.mp4");
  EXPECT_EQ(second.audio.path, parent.spool_dir / "prepared" / "segment-2.wav");
  EXPECT_EQ(second.video.original_path, parent.video.original_path);
  EXPECT_EQ(second.audio.original_name(), "talk.wav");
  ASSERT_TRUE(second.segment);
  EXPECT_EQ(second.segment->parent_id, parent.id);
  EXPECT_EQ(second.segment->index, 2);
  EXPECT_EQ(second.segment->count, 3);
  EXPECT_DOUBLE_EQ(second.segment->start_s, 540.0);
  EXPECT_DOUBLE_EQ(second.segment->end_s, 1080.0);
  ASSERT_TRUE(second.plan);
  EXPECT_EQ(second.plan->sync_mode, SyncMode::cut_off);
  EXPECT_EQ(second.plan->reason, "segment 2/3 of " + parent.id);
  EXPECT_EQ(second.plan->model, "lipsync-2");
  EXPECT_DOUBLE_EQ(second.plan->output_s, 540.0);
  EXPECT_DOUBLE_EQ(second.plan->video_s, 540.0);
  EXPECT_DOUBLE_EQ(second.plan->estimated_usd, 0.9);
  EXPECT_DOUBLE_EQ(second.plan->usd_per_minute, 0.1);
  EXPECT_EQ(second.plan->normalized_video, second.video.path);
  EXPECT_FALSE(second.plan->is_long_form());
  EXPECT_EQ(second.created_at, now_);
  EXPECT_TRUE(second.lease.node.empty());  // any node may run it

  // Everything survives a reopened store, the parent's segment plan included.
  auto reopened = open_store();
  const JobRecord stored = reopened->get(parent.id);
  ASSERT_TRUE(stored.plan);
  ASSERT_EQ(stored.plan->segments.size(), 3u);
  EXPECT_EQ(stored.plan->segments[2].cut_reason, parent.plan->segments[2].cut_reason);
  EXPECT_EQ(stored.plan->segments[2].audio, parent.plan->segments[2].audio);
  EXPECT_DOUBLE_EQ(stored.plan->segments[2].estimated_usd, 0.45);
  EXPECT_FALSE(stored.is_segment());
  EXPECT_EQ(reopened->get(second.id).segment->parent_id, parent.id);
  const auto events = reopened->history(second.id);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_FALSE(events[0].from);
  EXPECT_EQ(events[0].to, JobState::prepared);
  EXPECT_EQ(reopened->history(parent.id).back().to, JobState::segmented);
  EXPECT_TRUE(reopened->segments_of(segments[0].id).empty());
}

TEST_P(SegmentsTest, StartingSegmentsAgainAfterACrashInsertsNothingTwice) {
  const JobRecord parent = prepared_long_form("talk", {1.0, 1.0});
  store_->start_segments(parent.id);
  const auto events = store_->history(parent.id).size();
  const JobRecord again = store_->start_segments(parent.id, daily_cap(2.0));
  EXPECT_EQ(again.state, JobState::segmented);
  EXPECT_EQ(store_->segments_of(parent.id).size(), 2u);
  EXPECT_EQ(store_->history(parent.id).size(), events);
  EXPECT_EQ(store_->history(parent.id + "-s01").size(), 1u);
  EXPECT_DOUBLE_EQ(spent_today(), 2.0);
}

TEST_P(SegmentsTest, OnlyAPreparedLongFormJobStartsSegments) {
  const auto plain = store_->claim(drop_pair("plain")).job.id;
  store_->mark_prepared(plain, JobPlan{});
  for (const auto& id : {plain, store_->claim(drop_pair("fresh")).job.id}) {
    try {
      store_->start_segments(id);
      ADD_FAILURE() << "segments started for " << id;
    } catch (const Error& e) {
      EXPECT_EQ(e.reason_code(), "illegal_transition") << e.what();
    }
  }
}

TEST_P(SegmentsTest, TheWholeEstimateMustFitTheCapBeforeAnySegmentExists) {
  spend_on_another_job(4.0);
  const JobRecord too_big = prepared_long_form("big", {3.0, 3.01});
  try {
    store_->start_segments(too_big.id, daily_cap(10.0));
    FAIL() << "a job that breaks the cap started its segments";
  } catch (const BudgetExceeded& e) {
    EXPECT_EQ(e.breach().period, "daily");
    EXPECT_NEAR(e.breach().cost_usd, 6.01, 1e-9);
  }
  EXPECT_EQ(store_->get(too_big.id).state, JobState::prepared);
  EXPECT_TRUE(store_->segments_of(too_big.id).empty());
  EXPECT_FALSE(fs::exists(too_big.spool_dir / "segments"));
  EXPECT_DOUBLE_EQ(spent_today(), 4.0);

  const JobRecord fits = prepared_long_form("fits", {3.0, 2.99});
  EXPECT_EQ(store_->start_segments(fits.id, daily_cap(10.0)).state, JobState::segmented);
  EXPECT_EQ(store_->segments_of(fits.id).size(), 2u);
  EXPECT_NEAR(spent_today(), 9.99, 1e-9);
}

TEST_P(SegmentsTest, SegmentsReserveNothingSoTheJobCountsOnceWhileTheySubmit) {
  const JobRecord parent = prepared_long_form("talk", {1.0, 1.0, 1.0});
  store_->start_segments(parent.id, daily_cap(3.0));
  const auto segments = store_->segments_of(parent.id);
  // The cap is full with this job's own reservation: its segments still go.
  store_->mark_uploaded(segments[0].id, {});
  EXPECT_TRUE(
      store_->mark_submitting(segments[0].id, "fal-ai/sync-lipsync", daily_cap(3.0)).submit_intent);
  store_->mark_submitted(segments[0].id, "req-1");
  store_->mark_completed(segments[0].id, {"https://fal/1.mp4", 10, 0.8, std::nullopt});
  EXPECT_DOUBLE_EQ(spent_today(), 3.0);
  // A submit that never left gives nothing of the parent's back.
  store_->mark_uploaded(segments[1].id, {});
  store_->mark_submitting(segments[1].id, "fal-ai/sync-lipsync");
  store_->defer(segments[1].id, {"submit", "connect_failed", "no route", ""}, now_);
  store_->fail(segments[1].id, {"submit", "fal_rejected", "422", ""});
  EXPECT_DOUBLE_EQ(spent_today(), 3.0);
}

TEST_P(SegmentsTest, AParentFailingBeforeAnySegmentWasPaidReleasesItsReservation) {
  const JobRecord parent = prepared_long_form("talk", {1.0, 1.0});
  store_->start_segments(parent.id);
  EXPECT_DOUBLE_EQ(spent_today(), 2.0);
  const JobRecord failed = store_->fail(parent.id, {"segment", "no_face", "segment 2", ""});
  EXPECT_EQ(failed.state, JobState::failed);
  EXPECT_DOUBLE_EQ(spent_today(), 0.0);
  for (const auto& segment : store_->segments_of(parent.id)) {
    EXPECT_EQ(segment.state, JobState::failed);  // never submitted now
    ASSERT_TRUE(segment.error);
    EXPECT_EQ(segment.error->reason_code, "parent_failed");
  }
}

TEST_P(SegmentsTest, AParentFailingWithPaidSegmentsKeepsWhatTheyCost) {
  const JobRecord parent = prepared_long_form("talk", {1.0, 1.0, 1.0, 1.0});
  store_->start_segments(parent.id);
  const auto segments = store_->segments_of(parent.id);
  submit_segment(segments[0].id, "req-1");
  submit_segment(segments[1].id, "req-2");
  store_->mark_completed(segments[1].id, {"https://fal/2.mp4", 10, 0.75, std::nullopt});
  store_->mark_uploaded(segments[2].id, {});
  store_->mark_submitting(segments[2].id, "fal-ai/sync-lipsync");  // the POST may be out
  now_ += hours(1);

  store_->fail(parent.id, {"segment", "fal_failed", "segment 4 failed", ""});

  // Polled (estimate), billed, and in flight (estimate): what was or may have been bought.
  EXPECT_DOUBLE_EQ(spent_today(), 1.0 + 0.75 + 1.0);
  EXPECT_THAT(states(store_->segments_of(parent.id)),
              ElementsAre(JobState::submitted, JobState::completed, JobState::submitting,
                          JobState::failed));
}

TEST_P(SegmentsTest, RetryOfAFailedParentGoesOnWithItsSegmentsAndNeverResubmitsPaidOnes) {
  const JobRecord parent = prepared_long_form("talk", {1.0, 1.0, 1.0});
  store_->start_segments(parent.id);
  auto segments = store_->segments_of(parent.id);
  submit_segment(segments[0].id, "req-1");
  store_->mark_completed(segments[0].id, {"https://fal/1.mp4", 10, std::nullopt, std::nullopt});
  store_->mark_delivered(segments[0].id, {segments[0].spool_dir / "result.mp4"});
  submit_segment(segments[1].id, "req-2");
  store_->fail(segments[1].id, {"fal", "fal_failed", "the model failed", ""});
  store_->fail(parent.id, {"segment", "segment_failed", "segment 2 failed at fal", ""});
  EXPECT_DOUBLE_EQ(spent_today(), 2.0);
  EXPECT_EQ(store_->get(segments[2].id).state, JobState::failed);

  const JobRecord retried = store_->retry(parent.id);

  EXPECT_EQ(retried.state, JobState::segmented);
  EXPECT_FALSE(retried.error);
  ASSERT_TRUE(retried.plan);
  EXPECT_EQ(retried.plan->segments.size(), 3u);
  EXPECT_DOUBLE_EQ(spent_today(), 3.0);  // the whole purchase again
  segments = store_->segments_of(parent.id);
  EXPECT_EQ(segments[0].state, JobState::delivered);
  EXPECT_EQ(segments[1].state, JobState::submitted);  // polled, never submitted again
  EXPECT_EQ(segments[1].request_id, "req-2");
  EXPECT_EQ(segments[2].state, JobState::prepared);  // its inputs are cut already
  ASSERT_TRUE(segments[2].plan);
  EXPECT_EQ(segments[2].plan->normalized_video, segments[2].video.path);
  EXPECT_FALSE(segments[2].error);
  EXPECT_THROW(store_->mark_submitting(segments[1].id, "fal-ai/sync-lipsync"), Error);
  EXPECT_THROW(store_->mark_uploaded(segments[1].id, {}), Error);
  EXPECT_EQ(store_->get(segments[1].id).request_id, "req-2");
}

TEST_P(SegmentsTest, RetryOfASegmentSendsItBackToPreparedNeverToAccepted) {
  const JobRecord parent = prepared_long_form("talk", {1.0, 1.0});
  store_->start_segments(parent.id);
  const auto first = store_->segments_of(parent.id)[0].id;
  store_->mark_uploaded(first, {});
  store_->mark_submitting(first, "fal-ai/sync-lipsync");
  store_->fail(first, {"submit", "fal_rejected", "422", ""});
  const JobRecord retried = store_->retry(first);
  EXPECT_EQ(retried.state, JobState::prepared);
  EXPECT_TRUE(retried.plan);
  EXPECT_FALSE(retried.submit_intent);
  // And a person's retry of a parent that is still running retries its waiting segments.
  store_->hold(first, HoldReason::operator_request, "look at it");
  EXPECT_EQ(store_->retry(parent.id).state, JobState::segmented);
  EXPECT_EQ(store_->get(first).state, JobState::prepared);
  // A plain job never takes the segments' arrow.
  const auto plain = store_->claim(drop_pair("plain")).job.id;
  store_->fail(plain, {"prepare", "bad_input", "no", ""});
  EXPECT_THROW(store_->mark_prepared(plain, JobPlan{}), Error);
}

TEST_P(SegmentsTest, AParentParkedWhileSegmentedResumesToSegmented) {
  const JobRecord parent = prepared_long_form("talk", {1.0, 1.0});
  store_->start_segments(parent.id);
  const JobRecord held =
      store_->hold(parent.id, HoldReason::ambiguous_submit, "segment 2: the POST may be at fal");
  EXPECT_EQ(held.resume_state, JobState::segmented);
  EXPECT_EQ(store_->resume(parent.id).state, JobState::segmented);
  store_->defer(parent.id, {"stitch", "disk_full", "no space", ""}, now_);
  EXPECT_EQ(store_->retry(parent.id).state, JobState::segmented);
  EXPECT_DOUBLE_EQ(spent_today(), 2.0);  // parking gives nothing back
  EXPECT_EQ(store_->mark_completed(parent.id, {"stitched", 1, std::nullopt, std::nullopt}).state,
            JobState::completed);
}

TEST_P(SegmentsTest, CancellingAParentCancelsItsUnfinishedSegments) {
  const JobRecord parent = prepared_long_form("talk", {1.0, 1.0, 1.0});
  store_->start_segments(parent.id);
  const auto segments = store_->segments_of(parent.id);
  submit_segment(segments[0].id, "req-1");
  store_->mark_completed(segments[0].id, {"https://fal/1.mp4", 10, std::nullopt, std::nullopt});
  store_->mark_delivered(segments[0].id, {});
  submit_segment(segments[1].id, "req-2");

  store_->cancel(parent.id, "lipsyncd cancel");

  EXPECT_EQ(store_->get(parent.id).state, JobState::cancelled);
  EXPECT_THAT(states(store_->segments_of(parent.id)),
              ElementsAre(JobState::delivered, JobState::cancelled, JobState::cancelled));
  EXPECT_THAT(store_->history(segments[2].id).back().detail,
              testing::HasSubstr("was cancelled: lipsyncd cancel"));
  EXPECT_DOUBLE_EQ(spent_today(), 2.0);  // the two fal has
  EXPECT_TRUE(store_->unfinished().empty());
}

TEST_P(SegmentsTest, StatusShowsTheSegmentsDeliveredAndEachSegmentsPlace) {
  const JobRecord parent = prepared_long_form("talk", {1.0, 1.0, 1.0, 1.0, 1.0});
  store_->start_segments(parent.id);
  const auto segments = store_->segments_of(parent.id);
  for (int i = 0; i < 3; ++i) {
    const auto& id = segments[static_cast<std::size_t>(i)].id;
    submit_segment(id, "req-" + std::to_string(i));
    store_->mark_completed(id, {"https://fal/out.mp4", 10, std::nullopt, std::nullopt});
    store_->mark_delivered(id, {});
  }
  const auto rows = store_->status();
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_EQ(rows[0].id, parent.id);
  EXPECT_EQ(rows[0].state, JobState::segmented);
  EXPECT_EQ(rows[0].segments_total, 5);
  EXPECT_EQ(rows[0].segments_delivered, 3);
  EXPECT_FALSE(rows[0].segment);
  EXPECT_EQ(rows[4].id, parent.id + "-s04");
  ASSERT_TRUE(rows[4].segment);
  EXPECT_EQ(rows[4].segment->index, 4);
  EXPECT_EQ(rows[4].segment->count, 5);
  EXPECT_EQ(rows[4].segment->parent_id, parent.id);
  EXPECT_EQ(rows[4].segments_total, 0);
}

TEST_P(SegmentsTest, RecoveryResumesASegmentedParentAndListsItsSegmentsLikeAnyJob) {
  const JobRecord parent = prepared_long_form("talk", {1.0, 1.0});
  store_->start_segments(parent.id);
  const auto segments = store_->segments_of(parent.id);
  submit_segment(segments[0].id, "req-1");
  write_bytes(segments[1].spool_dir / ".result.mp4.1.tmp", "half");

  auto restarted = open_store();
  const Recovery recovery = restarted->recover();
  EXPECT_THAT(ids(recovery.resume), ElementsAre(parent.id, segments[1].id));
  EXPECT_THAT(ids(recovery.poll), ElementsAre(segments[0].id));
  EXPECT_EQ(recovery.removed_temporaries, 1);
  EXPECT_TRUE(fs::is_directory(segments[1].spool_dir));
  EXPECT_TRUE(fs::exists(segments[1].video.path));
}

TEST_P(SegmentsTest, AFailedParentKeepsItsFolderForRetryAndACancelledOneIsTidied) {
  const JobRecord failing = prepared_long_form("failing", {1.0, 1.0});
  store_->start_segments(failing.id);
  EXPECT_FALSE(tidy_final_spool_folder(store_->fail(failing.id, {"segment", "x", "y", ""})));
  EXPECT_TRUE(fs::exists(failing.plan->segments[1].video));
  EXPECT_TRUE(fs::is_directory(failing.spool_dir / "segments" / "02"));
  EXPECT_FALSE(tidy_final_spool_folder(store_->get(failing.id + "-s02")));

  const JobRecord cancelled = prepared_long_form("cancelled", {1.0, 1.0});
  store_->start_segments(cancelled.id);
  fs::remove_all(cancelled.spool_dir / "inputs");  // the cancel command moved them out
  EXPECT_TRUE(tidy_final_spool_folder(store_->cancel(cancelled.id, "not wanted")));
  EXPECT_FALSE(fs::exists(cancelled.spool_dir));
}

TEST_P(SegmentsTest, ASegmentedParentIsDueAtEachPickupAndItsSegmentsGoToAnyNode) {
  auto node_a = open_store("node-a");
  auto node_b = open_store("node-b");
  const JobRecord parent = prepared_long_form("talk", {1.0, 1.0}, node_a.get());
  // Held by node-a (it claimed and prepared it): node-b cannot start its segments.
  EXPECT_THROW(node_b->start_segments(parent.id), Error);
  EXPECT_EQ(node_a->start_segments(parent.id).lease.node, "node-a");

  const Pickup b_pickup = node_b->take_due_jobs(10);
  EXPECT_THAT(ids(b_pickup.due), ElementsAre(parent.id + "-s01", parent.id + "-s02"));
  const Pickup a_pickup = node_a->take_due_jobs(10);
  EXPECT_THAT(ids(a_pickup.due), ElementsAre(parent.id));  // it checks its segments each time
  EXPECT_EQ(node_b->mark_uploaded(parent.id + "-s01", {}).lease.node, "node-b");
  // node-a fails the job: node-b loses the segment it had not submitted yet.
  node_a->fail(parent.id, {"segment", "no_face", "segment 2 has no face", ""});
  try {
    node_b->mark_submitting(parent.id + "-s01", "fal-ai/sync-lipsync");
    ADD_FAILURE() << "a segment of a failed job was submitted";
  } catch (const Error& e) {
    EXPECT_EQ(e.reason_code(), kLeaseLostReason) << e.what();
  }
  EXPECT_EQ(node_a->get(parent.id + "-s01").state, JobState::failed);
}

}  // namespace
}  // namespace lipsyncd::spool

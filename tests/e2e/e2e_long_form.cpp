// Long-form jobs end to end (ctest label e2e-longform): a talk longer than one fal request
// allows is split at speech pauses, sent as one request per segment, and delivered as one
// video with the original audio; a kill -9 while a segment is at fal pays for nothing twice;
// a segment fal fails fails the job naming it, and `retry` resubmits nothing already paid.

#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <sstream>

#include "daemon_test.hpp"
#include "long_talk.hpp"

namespace lipsyncd::test {
namespace {

using namespace std::chrono_literals;

constexpr double kFrameS = 1.0 / 25;  // the generated talk's frame duration

// ffprobe's answer for one stream, one value a line.
std::vector<double> probe_values(const std::filesystem::path& file, const std::string& stream,
                                 const std::string& entries, const std::filesystem::path& scratch) {
  const auto out = scratch / "ffprobe.out";
  std::filesystem::remove(out);
  const int code = run_to_completion({"/usr/bin/ffprobe", "-v", "error", "-select_streams", stream,
                                      "-show_entries", entries, "-of", "csv=p=0", file.string()},
                                     out, 120s);
  EXPECT_EQ(code, 0) << read_text(out);
  std::vector<double> values;
  std::istringstream lines(read_text(out));
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line != "N/A") values.push_back(std::stod(line));
  }
  return values;
}

class LongFormE2E : public DaemonTest {
 protected:
  // A short talk split as a long one would be: requests of at most 60 s, so 150 s make three
  // segments in seconds rather than minutes.
  void use_sixty_second_requests() {
    settings["media"]["max_video_duration_s"] = "60";
    settings["longform"]["max_segment_s"] = "60";
  }

  boost::json::object sidecar(const std::string& stem) const {
    return read_json(outbox() / (stem + ".lipsync.json"));
  }

  // The request ids fal created, in order.
  std::vector<std::string> created_request_ids() const {
    std::vector<std::string> ids;
    for (const auto& entry : emulator->requests()) {
      const auto* id = entry.if_contains("request_id");
      if (id != nullptr && id->is_string() && !id->as_string().empty()) {
        ids.emplace_back(id->as_string());
      }
    }
    return ids;
  }

  // The sidecar's segments: in order, touching, each within one request, together the whole.
  void expect_segments_cover(const boost::json::object& sidecar, std::size_t count, double output_s,
                             double max_segment_s) {
    const auto& segments = sidecar.at("segments").as_array();
    ASSERT_EQ(segments.size(), count) << boost::json::serialize(sidecar);
    double at = 0;
    std::set<std::string> request_ids;
    for (std::size_t i = 0; i < segments.size(); ++i) {
      const auto& segment = segments[i].as_object();
      EXPECT_EQ(segment.at("index").as_int64(), static_cast<std::int64_t>(i + 1));
      EXPECT_NEAR(segment.at("start_s").to_number<double>(), at, 1e-3);
      const double end = segment.at("end_s").to_number<double>();
      EXPECT_LE(end - at, max_segment_s + 1e-3);
      EXPECT_GT(end - at, 0.5 * output_s / static_cast<double>(count));
      EXPECT_GT(segment.at("estimated_cost_usd").to_number<double>(), 0);
      EXPECT_FALSE(segment.at("cut_reason").as_string().empty());
      request_ids.insert(std::string(segment.at("request_id").as_string()));
      at = end;
    }
    EXPECT_NEAR(at, output_s, kFrameS);
    EXPECT_EQ(request_ids.size(), count) << "each segment has a request of its own";
  }

  // One picture, frame after frame, with no gap or overlap at the seams, and the audio as long
  // as the picture.
  void expect_seamless(const std::filesystem::path& video, double output_s) {
    const auto scratch = dir / "probe";
    std::filesystem::create_directories(scratch);
    const auto pts = probe_values(video, "v:0", "packet=pts_time", scratch);
    ASSERT_GT(pts.size(), 10u);
    std::vector<double> sorted = pts;  // packets are in decode order; frames show in pts order
    std::sort(sorted.begin(), sorted.end());
    int jumps = 0;
    for (std::size_t i = 1; i < sorted.size(); ++i) {
      if (std::fabs(sorted[i] - sorted[i - 1] - kFrameS) > kFrameS / 4) ++jumps;
    }
    EXPECT_EQ(jumps, 0) << "frames do not follow each other evenly across the seams";
    const double video_s = sorted.back() + kFrameS - sorted.front();
    EXPECT_NEAR(video_s, output_s, kFrameS);
    const auto audio = probe_values(video, "a:0", "stream=duration", scratch);
    ASSERT_EQ(audio.size(), 1u);
    EXPECT_NEAR(audio.front(), video_s, kFrameS);
  }
};

TEST_F(LongFormE2E, ATwentyFiveMinuteTalkIsThreeRequestsAndOneSeamlessVideoOfItsLength) {
  const auto talk = long_talk(1500);
  write_config();
  start_daemon();
  drop_file(talk.video, "talk.mp4");
  drop_file(talk.audio, "talk.wav");
  // While it runs, `status` shows the job with its progress and each segment under it.
  EXPECT_TRUE(eventually(
      [&] {
        const auto text = run_cli({"status"});
        return text.find("segments delivered") != std::string::npos &&
               text.find("segment 3/3 of ") != std::string::npos;
      },
      300s))
      << run_cli({"status"});
  ASSERT_TRUE(delivered("talk", 20min)) << daemon->log();

  EXPECT_EQ(submissions(), 3u);
  EXPECT_EQ(requests_created(), 3u);
  const auto json = sidecar("talk");
  expect_segments_cover(json, 3, 1500, 540);
  EXPECT_NEAR(json.at("output_duration_s").to_number<double>(), 1500, kFrameS);
  expect_seamless(outbox() / "talk.lipsync.mp4", 1500);
  EXPECT_EQ(places_of("talk.mp4"), (std::set<std::string>{"done"}));
  EXPECT_EQ(places_of("talk.wav"), (std::set<std::string>{"done"}));
  stop_daemon();
}

TEST_F(LongFormE2E, KillNineWhileSegmentTwoIsAtFalThenRestartPaysForEachSegmentOnce) {
  start_emulator({.processing_ms = 4000});
  use_sixty_second_requests();
  settings["fal"]["max_in_flight"] = "1";  // one segment at fal at a time, in order
  const auto talk = long_talk(150);
  write_config();
  start_daemon();
  drop_file(talk.video, "crash.mp4");
  drop_file(talk.audio, "crash.wav");
  const bool reached =
      daemon->wait_for_output(std::regex("event=submitted.*-s02|-s02.*event=submitted"), 300s)
          .has_value();
  daemon->signal(SIGKILL);
  daemon->wait_for_exit(10s);
  ASSERT_TRUE(reached) << "segment 2 was never submitted:\n" << daemon->log();
  const auto before_crash = created_request_ids();
  ASSERT_EQ(before_crash.size(), 2u) << "segment 1 and segment 2 were at fal";

  start_daemon();
  ASSERT_TRUE(delivered("crash", 300s)) << daemon->log();
  const auto created = created_request_ids();
  EXPECT_EQ(created.size(), 3u) << "no segment was paid for twice";
  const auto json = sidecar("crash");
  expect_segments_cover(json, 3, 150, 60);
  const auto& segments = json.at("segments").as_array();
  EXPECT_EQ(segments[0].at("request_id").as_string(), before_crash[0]);
  EXPECT_EQ(segments[1].at("request_id").as_string(), before_crash[1]);
  EXPECT_EQ(names_in(outbox()), (std::set<std::string>{"crash.lipsync.mp4", "crash.lipsync.json"}));
  expect_seamless(outbox() / "crash.lipsync.mp4", 150);
  stop_daemon();
}

TEST_F(LongFormE2E, ASegmentFalFailsFailsTheJobNamingItAndRetryResubmitsNothingPaid) {
  use_sixty_second_requests();
  settings["fal"]["max_in_flight"] = "1";
  // The first submit passes untouched, the second (segment 2) fails at fal as a model error.
  emulator->set_faults(R"({"faults": [
      {"path": "^/fal-ai/sync-lipsync$", "action": "delay", "delay_ms": 0, "times": 1},
      {"path": "^/fal-ai/sync-lipsync$", "action": "app_failure", "status": 422, "times": 1,
       "body": {"detail": [{"loc": ["body", "video_url"], "msg": "No face detected", "type": "face_not_found"}]}}]})");
  const auto talk = long_talk(150);
  write_config();
  start_daemon();
  drop_file(talk.video, "fails.mp4");
  drop_file(talk.audio, "fails.wav");
  ASSERT_TRUE(rejected("fails", 300s)) << daemon->log();
  const auto report = read_json(error() / "fails.error.json");
  const std::string message(report.at("message").as_string());
  EXPECT_NE(message.find("segment 2/3"), std::string::npos) << message;
  const std::string job_id(report.at("job_id").as_string());
  const auto failed_once = std::regex("event=failed.*" + job_id + "|" + job_id + ".*event=failed");
  EXPECT_TRUE(
      eventually([&] { return places_of("fails.mp4") == std::set<std::string>{"error"}; }, 30s));
  const auto paid_before_retry = created_request_ids();
  EXPECT_GE(paid_before_retry.size(), 2u);

  int code = -1;
  const auto retried = run_cli({"retry", job_id}, &code);
  EXPECT_EQ(code, 0) << retried;
  // Segment 2's request failed at fal: it is asked again, never resubmitted, and fails the
  // job again. Segment 1 is reused; segment 3 is submitted only if it never was.
  EXPECT_TRUE(eventually(
      [&] {
        const auto log = daemon->log();
        const auto matches = std::distance(
            std::sregex_iterator(log.begin(), log.end(), failed_once), std::sregex_iterator());
        return matches >= 2;
      },
      300s))
      << daemon->log();
  std::this_thread::sleep_for(3s);  // anything the retry would wrongly send arrives by now
  const auto paid = created_request_ids();
  EXPECT_EQ(paid.size(), 3u) << "each segment was paid for once";
  EXPECT_EQ(submissions(), 3u);
  EXPECT_EQ(paid[0], paid_before_retry[0]);
  EXPECT_EQ(paid[1], paid_before_retry[1]);
  const auto again = read_json(error() / "fails.error.json");
  EXPECT_NE(std::string(again.at("message").as_string()).find("segment 2/3"), std::string::npos);
  EXPECT_TRUE(names_in(outbox()).empty());
  stop_daemon();
}

}  // namespace
}  // namespace lipsyncd::test
